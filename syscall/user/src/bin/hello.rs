//! Prints one line and exits 0: the smallest proof that a kernel can exec a static program and
//! carry its `write` and `exit_group`.

fn main() {
    println!("{}", levitate_user::HELLO);
}
