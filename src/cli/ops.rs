//! Left only for `app/run.rs`, which still imports `base_vars` from here;
//! goes away when the console uses `backend::fleet::Fleet`.

pub use crate::backend::fleet::base_vars;
