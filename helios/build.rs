//! Compiles the one C file Helios needs: Redis-exact long double arithmetic
//! for INCRBYFLOAT (see csrc/longdouble.c for why).
fn main() {
    println!("cargo:rerun-if-changed=csrc/longdouble.c");
    cc::Build::new()
        .file("csrc/longdouble.c")
        .warnings(true)
        .compile("helios_longdouble");
}
