//! A library that says it has another ABI version than ours, for the loader's test of a libxio
//! built from another version of @xio/core (zig-out/lib/testing/libxio-other-abi.so).

export fn xio_abi_version() u32 {
    return 99;
}
