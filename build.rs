//! Builds the small C shim that gives INCRBYFLOAT Redis's exact `long double` arithmetic.
fn main() {
    println!("cargo:rerun-if-changed=csrc/longdouble.c");
    cc::Build::new().file("csrc/longdouble.c").opt_level(2).compile("shardis_ld");
}
