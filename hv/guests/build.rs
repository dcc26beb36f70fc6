//! Link each guest with its linker script when building for the bare x86_64 target: flat
//! binaries at 0x8000 (`flat.ld`), the PVH ELF at 1 MiB (`pvh.ld`).

/// Guests that are ELF images with a PVH note; every other binary is a flat image.
const PVH: &[&str] = &["hello"];

const FLAT: &[&str] = &[
    "realmode-hello",
    "protected",
    "longmode",
    "mmio",
    "exceptions",
    "timer",
    "fault",
];

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    println!("cargo:rerun-if-changed={dir}/asm");
    if os != "none" {
        return;
    }
    for (names, script) in [(FLAT, "flat.ld"), (PVH, "pvh.ld")] {
        let script = format!("{dir}/{script}");
        println!("cargo:rerun-if-changed={script}");
        for name in names {
            println!("cargo:rustc-link-arg-bin={name}=-T{script}");
            println!("cargo:rustc-link-arg-bin={name}=-zmax-page-size=4096");
            println!("cargo:rustc-link-arg-bin={name}=--no-relax");
        }
    }
}
