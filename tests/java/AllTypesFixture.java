// Test oracle: puts objects with a field of every Ignite binary type into a cache through
// Ignite's own Java thin client (so Ignite's marshaller writes the bytes), and prints, per key,
// one JSON line with the values it wrote. The Python tests read the cache with ignite_fast and
// compare field by field.
//
// Usage: java -cp <classes>:<ignite libs>/* AllTypesFixture <host:port> <cache> <rows>

import java.math.BigDecimal;
import java.math.BigInteger;
import java.sql.Time;
import java.sql.Timestamp;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.apache.ignite.Ignition;
import org.apache.ignite.binary.BinaryObjectException;
import org.apache.ignite.binary.BinaryReader;
import org.apache.ignite.binary.BinaryWriter;
import org.apache.ignite.binary.Binarylizable;
import org.apache.ignite.client.ClientCache;
import org.apache.ignite.client.IgniteClient;
import org.apache.ignite.configuration.ClientConfiguration;

public class AllTypesFixture {
    public enum Color { RED, GREEN, BLUE }

    public static class Inner {
        public int x;
        public String label;

        Inner(int x, String label) { this.x = x; this.label = label; }
    }

    /** Writes one named field and then raw (unnamed) data: an object with the raw-data flag. */
    public static class WithRaw implements Binarylizable {
        public int id;
        public String hidden;

        WithRaw(int id, String hidden) { this.id = id; this.hidden = hidden; }

        @Override public void writeBinary(BinaryWriter writer) throws BinaryObjectException {
            writer.writeInt("id", id);
            writer.rawWriter().writeString(hidden);
            writer.rawWriter().writeLong(42L);
        }

        @Override public void readBinary(BinaryReader reader) throws BinaryObjectException {
            id = reader.readInt("id");
            hidden = reader.rawReader().readString();
        }
    }

    public static class AllTypes {
        public byte b; public short s; public int i; public long l;
        public float f; public double d; public char c; public boolean bool;
        public String str; public UUID uuid; public Date date; public Timestamp ts; public Time time;
        public BigDecimal dec; public Color color;
        public byte[] bytes; public short[] shorts; public int[] ints; public long[] longs;
        public float[] floats; public double[] doubles; public char[] chars; public boolean[] bools;
        public String[] strs; public UUID[] uuids; public Date[] dates; public Timestamp[] tss;
        public Time[] times; public BigDecimal[] decs; public Color[] colors; public Inner[] objs;
        public List<Integer> list; public Set<String> set; public Map<String, Integer> map;
        public Inner inner; public Inner sameInner;
        public String nullStr; public Integer maybeInt; public Inner maybeInner;
        public WithRaw raw;
    }

    static AllTypes make(int k) {
        AllTypes t = new AllTypes();
        t.b = (byte) (k * 7 - 100); t.s = (short) (k * -300); t.i = k * 100000 + 1; t.l = -(1L << 40) + k;
        t.f = k * 0.25f; t.d = k * 1.5e-3; t.c = "Жabc".charAt(k % 4); t.bool = k % 2 == 0;
        t.str = "строка-" + k + " \uD83D\uDC08";
        t.uuid = new UUID(0x0123456789abcdefL + k, 0xfedcba9876543210L - k);
        t.date = new Date(1_600_000_000_000L + k * 86_400_000L);
        t.ts = new Timestamp(1_600_000_000_000L + k * 1000L);
        t.ts.setNanos(123_456_789 + k);
        t.time = new Time(3_723_000L + k);
        t.dec = k % 3 == 0 ? new BigDecimal(BigInteger.valueOf(15 + k), -2)
            : new BigDecimal("-12345678901234567890.123456789").add(BigDecimal.valueOf(k));
        t.color = Color.values()[k % 3];
        t.bytes = new byte[] {(byte) k, -1, 2};
        t.shorts = new short[] {(short) k, (short) -k};
        t.ints = new int[k % 4];
        for (int j = 0; j < t.ints.length; j++) t.ints[j] = k + j;
        t.longs = new long[] {Long.MIN_VALUE + k, Long.MAX_VALUE - k};
        t.floats = new float[] {k + 0.5f};
        t.doubles = new double[] {k, -k, k * 0.5};
        t.chars = new char[] {'x', (char) ('a' + k % 26)};
        t.bools = new boolean[] {true, k % 2 == 1};
        t.strs = new String[] {"a" + k, null, "ü"};
        t.uuids = new UUID[] {t.uuid, null};
        t.dates = new Date[] {t.date};
        t.tss = new Timestamp[] {t.ts};
        t.times = new Time[] {t.time};
        t.decs = new BigDecimal[] {t.dec, null};
        t.colors = new Color[] {Color.RED, t.color};
        t.objs = new Inner[] {new Inner(k, "o" + k), new Inner(-k, null)};
        t.list = new ArrayList<>(Arrays.asList(k, k + 1, null));
        t.set = new LinkedHashSet<>(Arrays.asList("x" + k, "y"));
        t.map = new LinkedHashMap<>();
        t.map.put("one", 1);
        t.map.put("k", k);
        t.inner = new Inner(k, "inner-" + k);
        t.sameInner = t.inner; // the marshaller writes a handle back to `inner`
        t.nullStr = null;
        t.maybeInt = k % 2 == 0 ? null : k;
        t.maybeInner = k % 2 == 0 ? null : new Inner(k * 10, "maybe");
        t.raw = new WithRaw(k + 500, "raw-" + k);
        return t;
    }

    // ---- a minimal JSON writer (no extra dependencies on the classpath) ----

    static String q(String s) {
        if (s == null) return "null";
        StringBuilder sb = new StringBuilder("\"");
        for (char ch : s.toCharArray()) {
            if (ch == '"' || ch == '\\') sb.append('\\').append(ch);
            else if (ch < 0x20 || ch > 0x7e) sb.append(String.format("\\u%04x", (int) ch));
            else sb.append(ch);
        }
        return sb.append('"').toString();
    }

    static String inner(Inner v) {
        return v == null ? "null" : "{\"x\":" + v.x + ",\"label\":" + q(v.label) + "}";
    }

    static String ts(Timestamp v) {
        return v == null ? "null" : "[" + v.getTime() + "," + (v.getNanos() % 1_000_000) + "]";
    }

    static String json(int k, AllTypes t) {
        StringBuilder o = new StringBuilder("{\"key\":" + k);
        o.append(",\"b\":").append(t.b).append(",\"s\":").append(t.s).append(",\"i\":").append(t.i);
        o.append(",\"l\":").append(t.l).append(",\"f\":").append(q(Float.toString(t.f)));
        o.append(",\"d\":").append(q(Double.toString(t.d))).append(",\"c\":").append((int) t.c);
        o.append(",\"bool\":").append(t.bool).append(",\"str\":").append(q(t.str));
        o.append(",\"uuid\":").append(q(t.uuid.toString())).append(",\"date\":").append(t.date.getTime());
        o.append(",\"ts\":").append(ts(t.ts)).append(",\"time\":").append(t.time.getTime());
        o.append(",\"dec\":").append(q(t.dec.toString())).append(",\"color\":").append(t.color.ordinal());
        o.append(",\"color_name\":").append(q(t.color.name()));
        StringBuilder a = new StringBuilder();
        for (byte v : t.bytes) a.append(a.length() > 0 ? "," : "").append(v);
        o.append(",\"bytes\":[").append(a).append("]");
        o.append(",\"shorts\":[").append(t.shorts[0]).append(",").append(t.shorts[1]).append("]");
        a = new StringBuilder();
        for (int v : t.ints) a.append(a.length() > 0 ? "," : "").append(v);
        o.append(",\"ints\":[").append(a).append("]");
        o.append(",\"longs\":[").append(t.longs[0]).append(",").append(t.longs[1]).append("]");
        o.append(",\"floats\":[").append(q(Float.toString(t.floats[0]))).append("]");
        o.append(",\"doubles\":[").append(t.doubles[0]).append(",").append(t.doubles[1]).append(",").append(t.doubles[2]).append("]");
        o.append(",\"chars\":[").append((int) t.chars[0]).append(",").append((int) t.chars[1]).append("]");
        o.append(",\"bools\":[").append(t.bools[0]).append(",").append(t.bools[1]).append("]");
        o.append(",\"strs\":[").append(q(t.strs[0])).append(",null,").append(q(t.strs[2])).append("]");
        o.append(",\"uuids\":[").append(q(t.uuids[0].toString())).append(",null]");
        o.append(",\"dates\":[").append(t.dates[0].getTime()).append("]");
        o.append(",\"tss\":[").append(ts(t.tss[0])).append("]");
        o.append(",\"times\":[").append(t.times[0].getTime()).append("]");
        o.append(",\"decs\":[").append(q(t.decs[0].toString())).append(",null]");
        o.append(",\"colors\":[").append(t.colors[0].ordinal()).append(",").append(t.colors[1].ordinal()).append("]");
        o.append(",\"objs\":[").append(inner(t.objs[0])).append(",").append(inner(t.objs[1])).append("]");
        o.append(",\"list\":[").append(t.list.get(0)).append(",").append(t.list.get(1)).append(",null]");
        o.append(",\"set\":[").append(q("x" + k)).append(",").append(q("y")).append("]");
        o.append(",\"map\":{\"one\":1,\"k\":").append(k).append("}");
        o.append(",\"inner\":").append(inner(t.inner)).append(",\"sameInner\":").append(inner(t.sameInner));
        o.append(",\"nullStr\":null,\"maybeInt\":").append(t.maybeInt);
        o.append(",\"maybeInner\":").append(inner(t.maybeInner));
        o.append(",\"raw_id\":").append(t.raw.id);
        return o.append("}").toString();
    }

    public static void main(String[] args) throws Exception {
        String address = args[0];
        String cacheName = args[1];
        int rows = Integer.parseInt(args[2]);
        try (IgniteClient client = Ignition.startClient(new ClientConfiguration().setAddresses(address))) {
            ClientCache<Integer, AllTypes> cache = client.getOrCreateCache(cacheName);
            for (int k = 0; k < rows; k++) {
                AllTypes t = make(k);
                cache.put(k, t);
                System.out.println(json(k, t));
            }
        }
    }
}
