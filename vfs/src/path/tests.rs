use super::*;
use std::vec::Vec;

fn p(s: &str) -> Path<'_> {
    Path::new(s.as_bytes(), EmptyPath::Deny).unwrap()
}

fn comps(s: &str) -> Vec<Component<'_>> {
    p(s).components().map(|c| c.unwrap()).collect()
}

fn norm(s: &str) -> std::string::String {
    let mut buf = [0u8; PATH_MAX];
    let out = p(s).normalize_into(&mut buf).unwrap();
    std::string::String::from_utf8(out.to_vec()).unwrap()
}

use Component::{CurDir, Normal, ParentDir};

#[test]
fn empty_and_length_limits() {
    assert_eq!(Path::new(b"", EmptyPath::Deny), Err(Errno::ENOENT));
    let empty = Path::new(b"", EmptyPath::Allow).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.last(), Last::Empty);
    assert_eq!(empty.split_last(), (None, Last::Empty));
    assert_eq!(empty.components().count(), 0);

    let max = std::vec![b'a'; PATH_MAX - 1];
    assert!(Path::new(&max, EmptyPath::Deny).is_ok());
    let over = std::vec![b'/'; PATH_MAX];
    assert_eq!(Path::new(&over, EmptyPath::Deny), Err(Errno::ENAMETOOLONG));
    // The length check comes first, as in strncpy_from_user.
    assert_eq!(
        Path::new(&std::vec![0u8; PATH_MAX], EmptyPath::Deny),
        Err(Errno::ENAMETOOLONG)
    );
    assert_eq!(Path::new(b"a\0b", EmptyPath::Deny), Err(Errno::EINVAL));
}

#[test]
fn from_nul_terminated_buffers() {
    assert_eq!(
        Path::from_nul_terminated(b"/bin/sh\0junk", EmptyPath::Deny).unwrap(),
        p("/bin/sh")
    );
    assert_eq!(
        Path::from_nul_terminated(b"\0", EmptyPath::Deny),
        Err(Errno::ENOENT)
    );
    assert!(
        Path::from_nul_terminated(b"\0", EmptyPath::Allow)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        Path::from_nul_terminated(b"abc", EmptyPath::Deny),
        Err(Errno::EFAULT)
    );
    let mut long = std::vec![b'x'; PATH_MAX + 10];
    assert_eq!(
        Path::from_nul_terminated(&long, EmptyPath::Deny),
        Err(Errno::ENAMETOOLONG)
    );
    long[PATH_MAX - 1] = 0;
    assert_eq!(
        Path::from_nul_terminated(&long, EmptyPath::Deny)
            .unwrap()
            .as_bytes()
            .len(),
        PATH_MAX - 1
    );
    long[PATH_MAX - 1] = b'x';
    long[PATH_MAX] = 0;
    assert_eq!(
        Path::from_nul_terminated(&long, EmptyPath::Deny),
        Err(Errno::ENAMETOOLONG)
    );
}

#[test]
fn components_skip_repeated_slashes() {
    assert_eq!(comps("/"), []);
    assert_eq!(comps("///"), []);
    assert_eq!(comps("a"), [Normal(b"a")]);
    assert_eq!(comps("/usr//bin/"), [Normal(b"usr"), Normal(b"bin")]);
    assert_eq!(
        comps("./a/../b/."),
        [CurDir, Normal(b"a"), ParentDir, Normal(b"b"), CurDir]
    );
    assert_eq!(comps("..."), [Normal(b"...")]);
    assert_eq!(comps(".hidden/..x"), [Normal(b".hidden"), Normal(b"..x")]);
    // Names are bytes: anything but '/' and NUL is allowed.
    assert_eq!(
        comps("\u{e9}/\t"),
        [Normal("\u{e9}".as_bytes()), Normal(b"\t")]
    );
}

#[test]
fn absolute_and_relative() {
    assert!(p("/").is_absolute());
    assert!(p("//a").is_absolute());
    assert!(!p("a/b").is_absolute());
    assert!(!p("./a").is_absolute());
    assert!(!p("..").is_absolute());
}

#[test]
fn trailing_slash_means_directory() {
    assert!(p("a/").has_trailing_slash());
    assert!(p("a//").has_trailing_slash());
    assert!(!p("a").has_trailing_slash());
    assert!(!p("/").has_trailing_slash());
    assert!(p("a/").must_be_dir());
    assert!(p("/").must_be_dir());
    assert!(p("a/.").must_be_dir());
    assert!(p("..").must_be_dir());
    assert!(!p("a/b").must_be_dir());
    assert!(!p("/a").must_be_dir());
}

#[test]
fn last_component_kinds() {
    assert_eq!(p("/").last(), Last::Root);
    assert_eq!(p("////").last(), Last::Root);
    assert_eq!(p(".").last(), Last::Dot);
    assert_eq!(p("a/./").last(), Last::Dot);
    assert_eq!(p("a/..").last(), Last::DotDot);
    assert_eq!(p("a/b").last(), Last::Normal(b"b"));
    assert_eq!(p("a/b//").last(), Last::Normal(b"b"));
    assert_eq!(p("b").last(), Last::Normal(b"b"));
}

#[test]
fn split_last_gives_parent_and_name() {
    let split = |s: &'static str| {
        let (parent, last) = p(s).split_last();
        (parent.map(|q| q.as_bytes()), last)
    };
    assert_eq!(split("name"), (None, Last::Normal(b"name")));
    assert_eq!(split("name//"), (None, Last::Normal(b"name")));
    assert_eq!(split("/name"), (Some(&b"/"[..]), Last::Normal(b"name")));
    assert_eq!(split("//name"), (Some(&b"/"[..]), Last::Normal(b"name")));
    assert_eq!(split("/a/b/c"), (Some(&b"/a/b"[..]), Last::Normal(b"c")));
    assert_eq!(split("a//b///c/"), (Some(&b"a//b"[..]), Last::Normal(b"c")));
    assert_eq!(split("a/."), (Some(&b"a"[..]), Last::Dot));
    assert_eq!(split("../.."), (Some(&b".."[..]), Last::DotDot));
    assert_eq!(split("/"), (None, Last::Root));
    assert_eq!(split("."), (None, Last::Dot));
}

#[test]
fn name_max_is_checked_where_the_walk_reaches_it() {
    let ok = std::format!("/missing/{}", "n".repeat(NAME_MAX));
    assert!(p(&ok).components().all(|c| c.is_ok()));
    let long = std::format!("/missing/{}/x", "n".repeat(NAME_MAX + 1));
    let mut it = p(&long).components();
    assert_eq!(it.next(), Some(Ok(Normal(b"missing"))));
    assert_eq!(it.next(), Some(Err(Errno::ENAMETOOLONG)));
    assert_eq!(it.next(), Some(Ok(Normal(b"x"))));
    assert_eq!(it.next(), None);
    assert_eq!(it.next(), None);
    let mut buf = [0u8; PATH_MAX];
    assert_eq!(p(&long).normalize_into(&mut buf), Err(Errno::ENAMETOOLONG));
}

#[test]
fn components_know_when_they_are_done() {
    let path = p("/a//b//");
    let mut it = path.components();
    assert!(!it.is_done());
    assert_eq!(it.next(), Some(Ok(Normal(b"a"))));
    assert!(!it.is_done());
    assert_eq!(it.rest(), b"b//");
    assert_eq!(it.next(), Some(Ok(Normal(b"b"))));
    assert!(it.is_done());
}

#[test]
fn lexical_normalisation() {
    let cases = [
        ("/", "/"),
        ("//", "/"),
        ("/..", "/"),
        ("/../..", "/"),
        ("/a/../..", "/"),
        ("/./a/./b/", "/a/b"),
        ("/a//b///c", "/a/b/c"),
        ("/a/b/../c", "/a/c"),
        ("/a/b/../../c/..", "/"),
        (".", "."),
        ("./", "."),
        ("a/..", "."),
        ("a/../..", ".."),
        ("..", ".."),
        ("../../a", "../../a"),
        ("../a/../b", "../b"),
        ("a/b/../../../c", "../c"),
        ("x/./y/", "x/y"),
        ("...", "..."),
    ];
    for (input, want) in cases {
        assert_eq!(norm(input), want, "{input}");
    }
}

#[test]
fn normalisation_reports_a_small_buffer() {
    let mut small = [0u8; 4];
    assert_eq!(
        p("/abcd").normalize_into(&mut small),
        Err(Errno::ENAMETOOLONG)
    );
    assert_eq!(p("/a/../b").normalize_into(&mut small).unwrap(), b"/b");
    let mut none = [0u8; 0];
    assert_eq!(p(".").normalize_into(&mut none), Err(Errno::ENAMETOOLONG));
}

/// Random paths over a small alphabet: normalisation is idempotent, never longer than the
/// input (except "." for an input that cancels out) and agrees with a naive model.
#[test]
fn normalisation_agrees_with_a_model() {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet = [b'/', b'.', b'a', b'b'];
    for _ in 0..20_000 {
        let len = (next() % 12) as usize + 1;
        let bytes: Vec<u8> = (0..len).map(|_| alphabet[(next() % 4) as usize]).collect();
        let path = Path::new(&bytes, EmptyPath::Deny).unwrap();

        // The model: a stack of names.
        let mut stack: Vec<&[u8]> = Vec::new();
        for c in bytes.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            match c {
                b"." => {}
                b".." => match stack.last() {
                    Some(&top) if top != b".." => {
                        stack.pop();
                    }
                    _ if path.is_absolute() => {}
                    _ => stack.push(b".."),
                },
                name => stack.push(name),
            }
        }
        let mut want = Vec::new();
        if path.is_absolute() {
            want.push(b'/');
        }
        want.extend_from_slice(&stack.join(&b'/'));
        if want.is_empty() {
            want.push(b'.');
        }

        let mut buf = [0u8; 64];
        let got = path.normalize_into(&mut buf).unwrap().to_vec();
        assert_eq!(got, want, "{}", bytes.escape_ascii());
        let mut again = [0u8; 64];
        let twice = Path::new(&got, EmptyPath::Deny)
            .unwrap()
            .normalize_into(&mut again)
            .unwrap();
        assert_eq!(twice, &got[..]);
        assert!(got.len() <= bytes.len().max(1));
    }
}
