//! The `plan` binary. Everything lives in the library; see `commands::main`.

/// mimalloc: a plan of 100,000 agents makes millions of small allocations, and the
/// system allocator spent a third of `plan lint`'s time and kept freed memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    plan_interpreter::main()
}
