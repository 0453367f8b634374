//! The primitive kinds by their Ignite names (`"int"`, `"double"`, ...), with the numpy dtype of
//! their arrays. Python reads this list as `_native.PRIMITIVE_DTYPES` rather than keeping copies.

use ignite_core::ignite2::protocol::type_code_name;
use ignite_core::PrimKind;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::arrays::primitive_dtype;

/// Every primitive kind with its Ignite name. Both come from the core's type codes, so a kind the
/// core adds appears here by itself.
fn primitives() -> impl Iterator<Item = (&'static str, PrimKind)> {
    (0..=u8::MAX)
        .filter_map(|code| PrimKind::from_code(code).map(|kind| (type_code_name(code), kind)))
}

/// The primitive kind called `name` (`"int"`), if there is one.
pub(crate) fn primitive_named(name: &str) -> Option<PrimKind> {
    primitives().find(|(n, _)| *n == name).map(|(_, kind)| kind)
}

/// `{Ignite name: numpy dtype name}` of every primitive: `{"byte": "uint8", "int": "int32", ...}`.
pub(crate) fn dtype_names(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let names = PyDict::new(py);
    for (name, kind) in primitives() {
        names.set_item(name, primitive_dtype(py, kind).getattr("name")?)?;
    }
    Ok(names)
}
