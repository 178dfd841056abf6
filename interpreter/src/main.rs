//! The `plan` binary. Everything lives in the library; see `commands::main`.

fn main() {
    plan_interpreter::main()
}
