// Test oracle: objects whose fields refer to the same child, put into a cache through Ignite's own
// Java thin client. Ignite's marshaller writes a second reference to an object as a handle back to
// the first, so these are graphs on the wire, and trees (a copy at every reference) once decoded.
//
// Usage: java -cp <classes>:<ignite libs>/* SharedGraphFixture <host:port> <cache> <shape>
//   shared  rows 0..4, each a root whose children share a handful of nodes; prints, per key, one
//           JSON line with the tree as it should read (every reference expanded)
//   deep    key 0: a node whose left and right are one node, 30 levels deep (about 1 KB on the
//           wire, 2^30 leaves as a tree); prints {"key":0,"levels":30}
//   wide    key 0: a node whose list `kids` holds one node four times, 15 levels deep (4^15
//           leaves as a tree); prints {"key":0,"levels":15}

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.apache.ignite.Ignition;
import org.apache.ignite.client.ClientCache;
import org.apache.ignite.client.IgniteClient;
import org.apache.ignite.configuration.ClientConfiguration;

public class SharedGraphFixture {
    public static class Node {
        public int id;
        public String label;
        public Node left;
        public Node right;
        public List<Node> kids;

        Node(int id, String label, Node left, Node right, List<Node> kids) {
            this.id = id; this.label = label; this.left = left; this.right = right; this.kids = kids;
        }
    }

    /** root { left: a, right: b { left: a, right: c }, kids: [a, c, b, a] }: a is met four times. */
    static Node shared(int k) {
        Node a = new Node(10 * k + 1, "a" + k, null, null, null);
        Node c = new Node(10 * k + 3, "c" + k, null, null, null);
        Node b = new Node(10 * k + 2, "b" + k, a, c, null);
        return new Node(10 * k, "root" + k, a, b, new ArrayList<>(Arrays.asList(a, c, b, a)));
    }

    static Node deep(int levels) {
        Node n = new Node(0, "leaf", null, null, null);
        for (int level = 1; level <= levels; level++)
            n = new Node(level, null, n, n, null);
        return n;
    }

    static Node wide(int levels) {
        Node n = new Node(0, "leaf", null, null, null);
        for (int level = 1; level <= levels; level++)
            n = new Node(level, null, null, null, new ArrayList<>(Arrays.asList(n, n, n, n)));
        return n;
    }

    // ---- a minimal JSON writer (no extra dependencies on the classpath) ----

    static String q(String s) {
        return s == null ? "null" : "\"" + s + "\""; // labels are plain ASCII
    }

    /** The node as a tree: every reference expanded. */
    static String json(Node n) {
        if (n == null) return "null";
        StringBuilder o = new StringBuilder("{\"id\":" + n.id + ",\"label\":" + q(n.label));
        o.append(",\"left\":").append(json(n.left)).append(",\"right\":").append(json(n.right));
        o.append(",\"kids\":");
        if (n.kids == null) {
            o.append("null");
        } else {
            o.append("[");
            for (int i = 0; i < n.kids.size(); i++) o.append(i > 0 ? "," : "").append(json(n.kids.get(i)));
            o.append("]");
        }
        return o.append("}").toString();
    }

    public static void main(String[] args) throws Exception {
        String address = args[0];
        String cacheName = args[1];
        String shape = args[2];
        try (IgniteClient client = Ignition.startClient(new ClientConfiguration().setAddresses(address))) {
            ClientCache<Integer, Node> cache = client.getOrCreateCache(cacheName);
            switch (shape) {
                case "shared":
                    for (int k = 0; k < 5; k++) {
                        Node root = shared(k);
                        cache.put(k, root);
                        System.out.println("{\"key\":" + k + ",\"val\":" + json(root) + "}");
                    }
                    break;
                case "deep":
                    cache.put(0, deep(30));
                    System.out.println("{\"key\":0,\"levels\":30}");
                    break;
                case "wide":
                    cache.put(0, wide(15));
                    System.out.println("{\"key\":0,\"levels\":15}");
                    break;
                default:
                    throw new IllegalArgumentException("unknown shape " + shape);
            }
        }
    }
}
