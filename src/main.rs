fn main() -> std::process::ExitCode {
    kubelab::main_entry()
}
