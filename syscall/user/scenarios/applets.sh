#!/bin/sh
# BusyBox applets and ash used the way people use them, each compared with what real BusyBox
# prints on Linux. One line per check: `PASS <name>` or `FAIL <name>: got [...] want [...]`,
# names `applet/<applet>[/<variant>]` and `shell/<scenario>`; then
# `SUMMARY applets passed=N failed=M`. Exit status 0 iff every check passed. `SKIP <name>: ...`
# lines name checks held back by a Levitate kernel gap (see gap()).
#
# Usage: applets.sh [WORKDIR]   (default $TMPDIR, else /tmp). All file work happens in a fresh
# directory below WORKDIR, so the host test can run it under the host-built BusyBox with a
# temporary directory, and Levitate can run it as init.
#
# Expectations were taken from BusyBox 1.35 (static musl) on Linux 6.1; hashes from GNU
# coreutils. Checks that depend on the machine (pids, uids, sizes of memory) compare with what
# the same machine says elsewhere (/proc, /etc/passwd), never with a guess.

# Linux starts init without PATH; the host test sets one holding only BusyBox applets.
: "${PATH:=/sbin:/usr/sbin:/bin:/usr/bin}"
export PATH
export LC_ALL=C TZ=UTC
umask 022

pass=0
fail=0
root=${1:-${TMPDIR:-/tmp}}
D=$root/applets.$$
rm -rf "$D"
mkdir -p "$D" || { echo "SUMMARY applets passed=0 failed=1"; exit 1; }
cd "$D" || exit 1
trap 'cd /; rm -rf "$D"' EXIT

# The value of $1 on one line, newlines shown as \n, so a FAIL stays one record.
oneline() {
    _o=
    _n=0
    while IFS= read -r _l; do
        if [ $_n = 0 ]; then _o=$_l; else _o="$_o\\n$_l"; fi
        _n=1
    done <<EOF
$1
EOF
    printf '%s' "$_o"
}

# check NAME WANT GOT
check() {
    if [ "$2" = "$3" ]; then
        echo "PASS $1"
        pass=$((pass + 1))
    else
        echo "FAIL $1: got [$(oneline "$3")] want [$(oneline "$2")]"
        fail=$((fail + 1))
    fi
}
ap() { check "applet/$1" "$2" "$3"; }
sc() { check "shell/$1" "$2" "$3"; }

# A check that needs something Levitate's kernel lacks (named in REASON, listed in
# .teams/0015-applet-scenarios.md): with APPLETS_ALL=1 (the host test, on Linux) it runs, so
# its expectation stays proven; otherwise it prints `SKIP NAME: kernel gap: REASON`.
# gap NAME REASON && ap ...
gap() {
    [ "${APPLETS_ALL:-0}" = 1 ] && return 0
    echo "SKIP $1: kernel gap: $2"
    return 1
}

printf 'banana\napple\ncherry\napple\n' > fruits
printf '10 b\n9 a\n100 c\n9 z\n' > nums
printf 'root:x:0:0\nbin:x:1:1\ndaemon:x:2:2\n' > pw
printf 'abc\n' > abc

# --- text -----------------------------------------------------------------------------------
ap cat "banana
apple
cherry
apple
abc" "$(cat fruits abc)"
ap echo "a  b-c" "$(echo -n 'a  b'; echo '-c')"
ap printf "00042|ab |ff|3.14" "$(printf '%05d|%-3s|%x|%.2f' 42 ab 255 3.14159)"
ap sort "apple
apple
banana
cherry" "$(sort fruits)"
ap sort/n "9 a
9 z
10 b
100 c" "$(sort -n nums)"
ap sort/k-r "9 z
100 c
10 b
9 a" "$(sort -k2 -r nums)"
ap sort/u "apple
banana
cherry" "$(sort -u fruits)"
ap uniq "      2 apple
      1 banana
      1 cherry" "$(sort fruits | uniq -c)"
ap uniq/d "apple" "$(sort fruits | uniq -d)"
ap head "banana
apple" "$(head -n 2 fruits)"
ap tail "apple" "$(tail -n 1 fruits)"
ap tail/c "ple" "$(tail -c 4 fruits | head -c 3)"
ap wc "4 4 26" "$(wc -l < fruits) $(wc -w < fruits) $(wc -c < fruits)"
ap cut "root:0
bin:1
daemon:2" "$(cut -d: -f1,3 pw)"
ap cut/c "roo" "$(head -1 pw | cut -c1-3)"
ap tr "HELLO" "$(echo hello | tr a-z A-Z)"
ap tr/d-s "hel wrld" "$(echo 'hello   world' | tr -d o | tr -s ' l' ' l')"
ap seq "1
2
3" "$(seq 3)"
ap seq/s "1,2,3,4,5" "$(seq -s, 1 5)"
ap seq/w "08 09 10" "$(seq -w 8 10 | tr '\n' ' ' | sed 's/ $//')"
ap expr "42 3 bc 2" "$(expr 6 \* 7) $(expr length abc) $(expr substr abcd 2 2) $(expr match abc 'a.')"
ap basename "c" "$(basename /a/b/c.txt .txt)"
ap dirname "/a/b" "$(dirname /a/b/c.txt)"
ap awk "128" "$(awk '{s += $1} END {print s}' nums)"
ap awk/fields "x-root
x-bin
x-daemon" "$(awk -F: '{print $2 "-" $1}' pw)"
ap awk/arith "128 3.5 7" "$(awk 'BEGIN {printf "%d %.1f %d\n", 2^7, 7/2, int(7.9)}')"
ap awk/gsub "b_n_n_" "$(echo banana | awk '{gsub(/a/, "_"); print}')"
ap sed "bAnAnA" "$(echo banana | sed 's/a/A/g')"
ap sed/n "apple
cherry" "$(sed -n '2,3p' fruits)"
cp fruits fr2
sed -i -e 's/^a/A/' -e '/cherry/d' fr2
ap sed/i "banana
Apple
Apple" "$(cat fr2)"
ap sed/y "BAnAnA" "$(echo banana | sed 'y/ab/AB/')"
ap grep "banana" "$(grep nan fruits)"
ap grep/v-c "2" "$(grep -v -c apple fruits)"
ap grep/E "banana
cherry" "$(grep -E '^(ban|che)' fruits)"
ap egrep "2" "$(egrep -c 'ap+le' fruits)"
ap fgrep "abc" "$(fgrep 'a.c' abc || echo abc)"
mkdir -p tree/a/b tree/c
echo needle > tree/a/b/one.txt
echo hay > tree/c/two.txt
echo needle > tree/c/three.log
ap grep/r "tree/a/b/one.txt
tree/c/three.log" "$(grep -rl needle tree | sort)"
ap find "tree/a/b/one.txt
tree/c/two.txt" "$(find tree -name '*.txt' | sort)"
ap xargs "tree/a/b/one.txt" "$(find tree -type f -name '*.txt' | xargs grep -l needle)"
ap xargs/n "1 2
3 4
5" "$(seq 5 | xargs -n 2)"
ap xargs/I "<a> <b>" "$(printf 'a\nb\n' | xargs -I{} echo '<{}>' | tr '\n' ' ' | sed 's/ $//')"
ap comm "apple
x" "$(printf 'apple\nbanana\n' > c1; printf 'apple\nx\n' > c2; comm -12 c1 c2; comm -13 c1 c2)"
ap paste "1,a
2,b" "$(seq 2 > p1; printf 'a\nb\n' > p2; paste -d, p1 p2)"
ap paste/s "1+2+3" "$(seq 3 | paste -s -d+)"
ap nl "     1	banana
     2	apple" "$(head -2 fruits | nl)"
ap fold "abcd
efgh
ij" "$(echo abcdefghij | fold -w 4)"
ap rev "ananab" "$(echo banana | rev)"
ap tac "apple
cherry
apple
banana" "$(tac fruits)"
seq 5 > five
split -l 2 five part.
ap split "part.aa part.ab part.ac|3
4" "$(echo part.* | cat)|$(cat part.ab)"
ap shuf "1 2 3 4 5" "$(shuf -i 1-5 | sort -n | tr '\n' ' ' | sed 's/ $//')"
ap expand "a       b" "$(printf 'a\tb\n' | expand)"
ap unexpand "a	b" "$(printf 'a       b\n' | unexpand -a)"
ap strings "hello world" "$(printf '\001\002hello world\000\003xy\n' | strings -n 4)"
ap dos2unix "610a" "$(printf 'a\r\n' > dos; dos2unix dos; od -An -tx1 dos | tr -d ' ')"
ap unix2dos "610d0a" "$(printf 'a\n' > unx; unix2dos unx; od -An -tx1 unx | tr -d ' ')"
ap more "abc" "$(more abc)"
ap less "abc" "$(cat abc | less)"
ap ed "hello ed" "$(printf 'hello vi\n' > edf; printf ',s/vi/ed/\nw\nq\n' | ed edf > /dev/null; cat edf)"

# --- numbers --------------------------------------------------------------------------------
ap factor "360: 2 2 2 3 3 5" "$(factor 360)"
ap bc "1024 3.33" "$(echo '2^10; scale=2; 10/3' | bc | tr '\n' ' ' | sed 's/ $//')"
ap dc "5" "$(echo '2 3 + p' | dc)"
ap test "yes" "$(test -d tree && test ! -e nope && [ 3 -lt 10 ] && [ abc = abc ] && echo yes)"
ap [ "no" "$([ -f tree ] && echo yes || echo no)"
ap [[ "match" "$([[ banana == b*a ]] && echo match)"
ap true "0 1" "$(true; a=$?; false; echo $a $?)"
ap false "1" "$(false || echo $?)"
ap ipcalc "BROADCAST=192.168.1.255
NETWORK=192.168.1.0" "$(ipcalc -n -b 192.168.1.5/24)"
ap getopt " -a -b 'x' -- 'f'" "$(getopt -o ab: -- -a -b x f)"
ap cal "   February 2024" "$(cal 2 2024 | head -1)"
ap cryptpw '$1$saltsalt$9xy1btjgzLYfb7hivXtC//' "$(cryptpw -m md5 -S saltsalt secret)"
ap mkpasswd '$1$saltsalt$9xy1btjgzLYfb7hivXtC//' "$(mkpasswd -m md5 secret saltsalt)"

# --- checksums and encodings ----------------------------------------------------------------
ap md5sum "0bee89b07a248e27c83fc3d5951213c1  abc" "$(md5sum abc)"
md5sum abc fruits > sums.md5
ap md5sum/c "abc: OK
fruits: OK" "$(md5sum -c sums.md5)"
ap sha1sum "03cfd743661f07975fa2f1220c5194cbaff48451  -" "$(sha1sum < abc)"
ap sha256sum "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb  abc" "$(sha256sum abc)"
ap sha512sum "4f285d0c0cc77286d8731798b7aae2639e28270d4166f40d769cbbdca5230714d848483d364e2f39fe6cb9083c15229b39a33615ebc6d57605f7c43f6906739d  abc" "$(sha512sum abc)"
ap sha3sum "855e77bb9d8fc068ca812a39d07bad50dc012d7f07c346d7e56a4f25075e4070  abc" "$(sha3sum -a 256 abc)"
ap cksum "1112837078 4 abc" "$(cksum abc)"
ap sum "08288     1 " "$(sum < abc)"
ap crc32 "4788814e abc" "$(crc32 abc)"
ap base64 "YWJjCg==|abc" "$(base64 abc)|$(base64 abc | base64 -d)"
ap base32 "MFRGGCQ=" "$(base32 abc)"
ap od "0000000 141 142 143 012
0000004" "$(od -b abc)"
ap od/x1 " 61 62 63 0a" "$(od -An -tx1 abc)"
ap hexdump "00000000  61 62 63 0a                                       |abc.|
00000004" "$(hexdump -C abc)"
ap hd "00000000  61 62 63 0a                                       |abc.|
00000004" "$(hd abc)"
ap xxd "00000000: 6162 630a                                abc." "$(xxd abc)"
ap xxd/r "abc" "$(xxd -p abc | xxd -r -p)"
ap uuencode "begin 644 abc
\$86)C\"@\`\`
\`
end" "$(uuencode abc abc)"
ap uudecode "abc" "$(uuencode abc out.txt | uudecode -o - )"

# --- archives and compression ---------------------------------------------------------------
seq 1000 > big
gzip -c big > big.gz
ap gzip " 1f 8b" "$(od -An -tx1 -N2 big.gz)"
ap gunzip "ok" "$(cp big.gz g2.gz; gunzip g2.gz; cmp g2 big && echo ok)"
ap zcat "500500" "$(zcat big.gz | awk '{s += $1} END {print s}')"
bzip2 -k big
ap bzip2 "ok" "$(bunzip2 -c big.bz2 | cmp - big && echo ok)"
ap bunzip2 "ok" "$(cp big.bz2 b2.bz2; bunzip2 b2.bz2; cmp b2 big && echo ok)"
ap bzcat "1000" "$(bzcat big.bz2 | tail -1)"
echo /Td6WFoAAATm1rRGAgAhARYAAAB0L+WjAQAIaGVsbG8geHoKAAAAAMFJOvpjUhRaAAEhCWwYxdUftvN9AQAAAAAEWVo= | base64 -d > h.xz
ap xzcat "hello xz" "$(xzcat h.xz)"
ap unxz "hello xz" "$(unxz -c h.xz)"
ap xz "hello xz" "$(xz -dc h.xz)"
echo XQAAgAD//////////wA0GUnujekUimql1d5wKZ///ZlAAA== | base64 -d > h.lzma
ap unlzma "hello lzma" "$(unlzma -c h.lzma)"
ap lzcat "hello lzma" "$(lzcat h.lzma)"
ap lzma "hello lzma" "$(lzma -dc h.lzma)"
ap lzop "ok" "$(lzop -c big > big.lzo && lzop -dc big.lzo | cmp - big && echo ok)"
echo UEsDBAoAAAAAADCweV2sADrHBwAAAAcAAAAFAAAAei50eHR6aXBwZWQKUEsBAh4DCgAAAAAAMLB5XawAOscHAAAABwAAAAUAAAAAAAAAAQAAAKSBAAAAAHoudHh0UEsFBgAAAAABAAEAMwAAACoAAAAAAA== | base64 -d > z.zip
ap unzip "zipped" "$(mkdir uz && cd uz && unzip -q ../z.zip && cat z.txt)"
tar czf tree.tgz tree
ap tar "tree/a/b/one.txt
tree/c/three.log
tree/c/two.txt" "$(tar tzf tree.tgz | grep -v '/$' | sort)"
ap tar/xz "needle|hay" "$(mkdir ut && cd ut && tar xzf ../tree.tgz && cat tree/a/b/one.txt)|$(cat ut/tree/c/two.txt)"
ap cpio "needle" "$(find tree | cpio -o -H newc > t.cpio 2>/dev/null; mkdir uc && cd uc && cpio -i -d < ../t.cpio 2>/dev/null; cat tree/c/three.log)"
ap diff "--- c1
+++ c2
@@ -1,2 +1,2 @@
 apple
-banana
+x" "$(diff -u c1 c2 | sed '1s/	.*//;2s/	.*//')"
diff -u c1 c2 > c.patch
ap patch "apple
x" "$(patch c1 < c.patch > /dev/null; cat c1)"
ap cmp "fruits abc differ: char 1, line 1
|0" "$(cmp fruits abc; cmp c1 c2; echo "|$?")"

# --- files ----------------------------------------------------------------------------------
mkdir -p deep/er/est
ap mkdir "ok" "$(test -d deep/er/est && echo ok)"
touch -d '2001-02-03 04:05:06' stamp
ap touch "981173106" "$(stat -c %Y stamp)"
ap date "Thu Jan  1 00:00:00 UTC 1970|1970-01-02|86400" "$(date -u -d @0)|$(date -u -d @86400 +%F)|$(date -u -d '1970-01-02 00:00:00' +%s)"
printf '0123456789' > ten
chmod 640 ten
ap chmod "640 -rw-r-----" "$(stat -c '%a %A' ten)"
chown 123:45 ten
ap chown "123 45" "$(stat -c '%u %g' ten)"
chgrp 67 ten
ap chgrp "67" "$(stat -c %g ten)"
ap stat "10 regular file ten" "$(stat -c '%s %F %n' ten)"
ap ls "-rw-r----- 10 ten" "$(ls -l ten | awk '{print $1, $5, $9}')"
ap ls/a "five fr2 fruits" "$(ls -a | grep -e '^f' | tr '\n' ' ' | sed 's/ $//')"
ln -s ten sym
ap ln "sym -> ten|ten" "$(ls -l sym | sed 's/.* sym/sym/')|$(readlink sym)"
ln ten hard
ap ln/hard "2" "$(stat -c %h ten)"
ap link "3" "$(link ten hard2; stat -c %h ten)"
ap unlink "2" "$(unlink hard2; stat -c %h ten)"
ap readlink "$D/ten" "$(readlink -f sym)"
ap realpath "$D/deep/er" "$(realpath deep/er/est/..)"
ap cp "needle|640" "$(cp -a tree tree2; cat tree2/a/b/one.txt)|$(cp -a ten ten2; stat -c %a ten2)"
ap mv "gone
there" "$(mv ten2 ten3; test -e ten2 || echo gone; test -e ten3 && echo there)"
ap rm "gone" "$(rm -r tree2; test -e tree2 || echo gone)"
ap rmdir "gone" "$(rmdir deep/er/est; test -d deep/er/est || echo gone)"
dd if=/dev/zero of=zeros bs=512 count=3 2>/dev/null
ap dd "1536" "$(stat -c %s zeros)"
ap dd/skip "345|XYcdef" "$(dd if=ten bs=1 skip=3 count=3 2>/dev/null)|$(printf abcdef > ddf; printf XY | dd of=ddf conv=notrunc 2>/dev/null; cat ddf)"
ap truncate "1000 4" "$(truncate -s 1000 zeros; stat -c %s zeros) $(truncate -s 4 ten3; stat -c %s ten3)"
ap fallocate "8192" "$(fallocate -l 8192 fa; stat -c %s fa)"
ap mktemp "file" "$(f=$(mktemp -p "$D"); test -f "$f" && echo file)"
ap install "755 x" "$(install -m 755 abc bin1; stat -c %a bin1) $(install -d idir && test -d idir && echo x)"
ap tee "abc|abc" "$(echo abc | tee t1)|$(cat t1)"
ap tee/a "abc
def" "$(echo def | tee -a t1 > /dev/null; cat t1)"
ap mkfifo "through the fifo" "$(mkfifo ff; (echo through the fifo > ff &); cat ff)"
ap mknod "fifo" "$(mknod np p; stat -c %F np)"
ap du "5	tree" "$(du -s tree | sed 's/^[0-9]*/5/')"
ap sync "0" "$(sync; echo $?)"
ap fsync "0" "$(fsync abc; echo $?)"
ap flock "locked" "$(flock lk echo locked)"
# Contention: a background flock holds the lock until a line comes through a FIFO.
mkfifo flk
flock lk sh -c 'echo held; read x < flk' > flk.out &
fp=$!
_i=0
while ! grep -q held flk.out 2>/dev/null && [ $_i -lt 500 ]; do
    usleep 10000
    _i=$((_i + 1))
done
ap flock/busy "busy" "$(flock -n lk true || echo busy)"
echo go > flk
wait $fp
ap flock/free "free" "$(flock -n lk echo free)"
ap shred "4 0" "$(printf 'data' > sh1; shred -n 1 -z sh1; stat -c %s sh1) $(tr -d '\000' < sh1 | wc -c)"
mkdir rp
printf '#!/bin/sh\necho one\n' > rp/01one
printf '#!/bin/sh\necho two\n' > rp/02two
chmod +x rp/*
ap run-parts "one
two" "$(run-parts rp)"
ap pwd "$D" "$(pwd)"

# --- filesystem images, chroot, editors, terminals --------------------------------------------
dd if=/dev/zero of=fat.img bs=1024 count=1440 2>/dev/null
mkfs.vfat fat.img > /dev/null
ap mkfs.vfat " 55 aa" "$(od -An -tx1 -j 510 -N 2 fat.img)"
ap blkid 'fat.img: TYPE="vfat"' "$(blkid fat.img)"
dd if=/dev/zero of=minix.img bs=1024 count=1024 2>/dev/null
ap mkfs.minix "352 inodes
1024 blocks" "$(mkfs.minix minix.img | head -2)"
ap fsck.minix "0" "$(fsck.minix minix.img > /dev/null 2>&1; echo $?)"
dd if=/dev/zero of=e2.img bs=1024 count=2048 2>/dev/null
ap mke2fs '0|e2.img: TYPE="ext2"' "$(mke2fs -F e2.img > /dev/null 2>&1; echo $?)|$(blkid e2.img | sed 's/UUID="[^"]*" //')"
dd if=/dev/zero of=swap.img bs=1024 count=64 2>/dev/null
ap mkswap "SWAPSPACE2" "$(mkswap swap.img > /dev/null; dd if=swap.img bs=1 skip=4086 count=10 2>/dev/null)"
mkdir croot
cp "$(readlink -f "$(which sh)")" croot/sh
ap chroot "in chroot /" "$(chroot croot /sh -c 'echo in chroot $(pwd)')"
printf 'one\ntwo\n' > vi.txt
ap vi "0ne
tw0" "$(vi -c ':%s/o/0/g' -c ':wq' vi.txt < /dev/null > /dev/null 2>&1; cat vi.txt)"
ap clear "1b5b481b5b4a" "$(clear | xxd -p)"
ap ascii "  1 01 SOH  17 11 DC1  33 21 !  49 31 1  65 41 A  81 51 Q   97 61 a  113 71 q" "$(ascii | sed -n 3p)"
ap pipe_progress "hi" "$(echo hi | pipe_progress 2> /dev/null)"
mkdir envd
echo bar > envd/FOO
ap envdir "FOO=bar" "$(envdir envd env | grep FOO)"
ap chpst "FOO=bar" "$(chpst -e envd env | grep FOO)"
ap envuidgid "GID=$(id -g) UID=$(id -u)" "$(envuidgid "$(id -un)" env | grep -e ^UID= -e ^GID= | sort | tr '\n' ' ' | sed 's/ $//')"
ap softlimit "soft" "$(softlimit -f 1000 echo soft)"
ap hostid "00000000" "$(hostid)"
ap linux32 "$(uname -m)|$(case $(uname -m) in x86_64) echo i686;; aarch64) echo armv8l;; esac)" "$(linux64 uname -m)|$(linux32 uname -m)"

# --- processes and the system ---------------------------------------------------------------
# A background job is a forked shell until it execs: wait (up to 5 s) until process $1 is
# named ${2:-sleep}, so that pidof/pgrep/pkill/killall, which match by name, can see it.
started() {
    _i=0
    while [ "$(cat /proc/$1/comm 2>/dev/null)" != "${2:-sleep}" ] && [ $_i -lt 500 ]; do
        usleep 10000
        _i=$((_i + 1))
    done
}
sleep 30 &
sp=$!
started $sp
ap ps "sleep" "$(ps -o pid,comm | awk -v p=$sp '$1 == p {print $2}')"
ap pidof "yes" "$(for p in $(pidof sleep); do [ "$p" = "$sp" ] && echo yes; done)"
ap pgrep "yes" "$(for p in $(pgrep sleep); do [ "$p" = "$sp" ] && echo yes; done)"
# wait works on the shell's own children only, so kill and wait run outside $(...).
kill $sp
wait $sp
ap kill "143" "$?"
sleep 30 &
sp=$!
started $sp
# Only our own child: the host test shares the machine with other people's sleeps.
pkill -TERM -P $$ -x sleep
wait $sp
ap pkill "143" "$?"
# killall has no owner or parent filter, so the victim gets a name no other process has:
# BusyBox runs argv[1] as the applet when its own name starts with "busybox".
ln -s "$(readlink -f "$(which sleep)")" "busyboxAP$$"
"./busyboxAP$$" sleep 30 &
sp=$!
started $sp "busyboxAP$$"
killall "busyboxAP$$"
wait $sp
ap killall "143" "$?"
ap sleep "0" "$(sleep 0.1; echo $?)"
ap usleep "0" "$(usleep 1000; echo $?)"
ap timeout "143" "$(timeout 1 sleep 5; echo $?)"
ap nice "5" "$(nice -n 5 nice)"
ap nohup "hi" "$(nohup echo hi 2>/dev/null)"
ap time "real" "$(time true 2>&1 >/dev/null | head -1 | cut -c1-4)"
ap env "A=1
B=2" "$(env -i A=1 B=2 env)"
ap printenv "xyz" "$(FOO=xyz printenv FOO)"
ap id "$(awk -F: -v u="$(id -un)" '$1 == u {print $3}' /etc/passwd)" "$(id -u)"
ap whoami "$(id -un)" "$(whoami)"
ap groups "$(id -gn)" "$(groups | cut -d' ' -f1)"
ap hostname "$(uname -n)" "$(hostname)"
ap uname "Linux yes" "$(uname -s) $(case $(uname -m) in x86_64|aarch64) echo yes;; esac)"
ap arch "$(uname -m)" "$(arch)"
ap nproc "yes" "$([ "$(nproc)" -ge 1 ] && echo yes)"
ap free "total Mem:" "$(free | awk 'NR == 1 {printf "%s ", $1} NR == 2 {print $1}')"
ap uptime "yes" "$(uptime | grep -q 'load average' && echo yes)"
ap mount "proc" "$(mount | awk '$3 == "/proc" {print $5}')"
ap mountpoint "yes no" "$(mountpoint -q /proc && echo yes) $(mountpoint -q "$D" || echo no)"
# Not `df /`: on an initramfs root (Linux's "rootfs", and Levitate's) BusyBox df skips the
# rootfs entry of /proc/mounts and says "/: can't find mount point", on both kernels.
ap df "Filesystem proc 0 /proc" "$(df /proc | awk 'NR == 1 {printf "%s ", $1} NR == 2 {print $1, $2, $NF}')"
ap top "yes" "$(top -b -n 1 | grep -q '^Mem:' && echo yes)"
ap which "sh" "$(basename "$(which sh)")"
ap yes "y
y
y" "$(yes | head -3)"
ap tty "not a tty" "$(tty < /dev/null)"
# A pseudo-terminal: script opens /dev/ptmx and runs the command on the slave, its session's
# controlling terminal; stty sets and reads the window size there (ONLCR adds the \r).
ap script "5 7" "$(script -q -c 'stty rows 5 cols 7; stty size' /dev/null < /dev/null | tr -d '\r')"
ap taskset "current affinity mask: 1" "$(taskset -p 1 $$ > /dev/null; taskset -p $$ | sed 's/.*s current/current/')"
ap chrt "current scheduling policy: SCHED_OTHER" "$(chrt -p $$ | head -1 | sed 's/.*s current/current/')"
ap ionice "none: prio 0" "$(ionice -p $$)"
ap setsid "0" "$(setsid true; echo $?)"
ap sysctl "Linux" "$(sysctl -n kernel.ostype)"
ap sysctl/key "kernel.hostname = $(hostname)" "$(sysctl kernel.hostname)"
ap sysctl/osrelease "$(uname -r)" "$(sysctl -n kernel.osrelease)"
ap sysctl/all "1 1 1 1" "$(sysctl -a 2> /dev/null > sysctl.all
    for k in 'kernel\.ostype = Linux' 'vm\.swappiness = [0-9]*' 'fs\.file-nr = [0-9]*.0.[0-9]*' \
        'kernel\.random\.entropy_avail = [0-9]*'; do
        printf '%s ' "$(grep -c "^$k\$" sysctl.all)"
    done | sed 's/ $//')"
u1=$(sysctl -n kernel.random.uuid)
u2=$(cat /proc/sys/kernel/random/uuid)
b1=$(cat /proc/sys/kernel/random/boot_id)
ap sysctl/uuid "36 new 36 same" "${#u1} $([ "$u1" != "$u2" ] && echo new) ${#b1} $([ "$b1" = "$(sysctl -n kernel.random.boot_id)" ] && echo same)"
ap sysctl/numbers "pid_max 3" "$(case $(cat /proc/sys/kernel/pid_max) in '' | *[!0-9]*) echo bad ;; *) echo pid_max ;; esac) $(awk '{print NF}' /proc/sys/fs/file-nr)"
# These writes fail the same way on both kernels. The ones that succeed run on Levitate alone:
# the host test runs as root and must not rename the host or retune its memory.
ap sysctl/read-only "sysctl: error setting key 'kernel.ostype': Permission denied
1" \
    "$(sysctl -w kernel.ostype=foo 2>&1; echo $?)"
ap sysctl/junk "sysctl: write error: Invalid argument
1" "$(sysctl -w vm.swappiness=abc 2>&1; echo $?)"
ap sysctl/unknown "sysctl: error: 'no/such/key' is an unknown key
1" "$(sysctl -n no.such.key 2>&1; echo $?)"
if [ "${APPLETS_ALL:-0}" != 1 ] && [ "$(uname -r)" = 6.1.0-levitate ]; then
    old_host=$(hostname)
    ap sysctl/write-hostname "kernel.hostname = sysbox sysbox sysbox" \
        "$(sysctl -w kernel.hostname=sysbox) $(hostname) $(uname -n)"
    hostname "$old_host"
    ap hostname/set "$old_host $old_host" "$(hostname) $(sysctl -n kernel.hostname)"
    ap sysctl/write-int "vm.swappiness = 10 10 10" \
        "$(sysctl -w vm.swappiness=10) $(sysctl -n vm.swappiness) $(cat /proc/sys/vm/swappiness)"
    ap sysctl/write-echo "2" "$(echo 2 > /proc/sys/vm/overcommit_memory; cat /proc/sys/vm/overcommit_memory)"
fi
# mount/umount (0025). Levitate-only: on the host they would change the machine's mounts (the
# expectations were taken from the same BusyBox on Linux inside `unshare -m`; musl says
# "Resource busy" for EBUSY). Everything mounted here is unmounted before the next check.
if [ "${APPLETS_ALL:-0}" != 1 ] && [ "$(uname -r)" = 6.1.0-levitate ]; then
    mkdir -p mnt bindsrc && echo src > bindsrc/f
    ap mount/tmpfs "hi" "$(mount -t tmpfs -o size=1m none "$D/mnt" && echo hi > mnt/f && cat mnt/f)"
    ap mount/list "none on $D/mnt type tmpfs (rw,relatime,size=1024k)" "$(mount | grep " on $D/mnt ")"
    ap mount/proc-mounts "none $D/mnt tmpfs rw,relatime,size=1024k 0 0" "$(grep " $D/mnt " /proc/mounts)"
    ap mount/remount-ro "touch: $D/mnt/g: Read-only file system" \
        "$(mount -o remount,ro "$D/mnt" && touch "$D/mnt/g" 2>&1)"
    ap mount/list-ro "ro,relatime,size=1024k" "$(mount | awk -v m="$D/mnt" '$3 == m {print substr($6, 2, length($6) - 2)}')"
    ap mount/remount-rw "ok" "$(mount -o remount,rw "$D/mnt" && touch "$D/mnt/g" && echo ok)"
    ap umount/busy "umount: can't unmount $D/mnt: Resource busy" "$(cd mnt && umount "$D/mnt" 2>&1)"
    ap umount "gone" "$(umount "$D/mnt" && [ ! -e mnt/f ] && echo gone)"
    ap umount/not-mounted "umount: can't unmount $D/mnt: Invalid argument" "$(umount "$D/mnt" 2>&1)"
    ap mount/bad-option "mount: mounting none on $D/mnt failed: Invalid argument" "$(mount -t tmpfs -o bogus none "$D/mnt" 2>&1)"
    ap mount/bad-type "mount: mounting none on $D/mnt failed: No such device" "$(mount -t nosuchfs none "$D/mnt" 2>&1)"
    ap mount/bind "src" "$(mount --bind bindsrc "$D/mnt" && cat mnt/f)"
    ap mount/bind-ro "touch: $D/mnt/h: Read-only file system" \
        "$(mount -o remount,bind,ro "$D/mnt" && touch "$D/mnt/h" 2>&1)"
    ap umount/bind "src" "$(umount "$D/mnt" && echo more >> bindsrc/f && head -1 bindsrc/f)"
    ap mount/proc "1" "$(mount -t proc proc "$D/mnt" && [ -r mnt/self/stat ] && echo 1; umount "$D/mnt")"
    ap umount/lazy "0" "$(mount -t tmpfs none "$D/mnt" && cd mnt && umount -l "$D/mnt"; echo $?)"
    ap mount/move "moved gone" "$(mkdir -p mnt2 && mount -t tmpfs none "$D/mnt" && echo moved > mnt/f && mount --move "$D/mnt" "$D/mnt2" && echo "$(cat mnt2/f) $([ -e mnt/f ] || echo gone)"; umount "$D/mnt2")"
    # The file pages of an unmounted tmpfs go back to the frame allocator (8 MiB written;
    # MemFree moves in heap blocks too, hence the slack).
    free_kib() { awk '$1 == "MemFree:" {print $2}' /proc/meminfo; }
    m0=$(free_kib)
    mount -t tmpfs none "$D/mnt" && dd if=/dev/zero of=mnt/big bs=64k count=128 2> /dev/null
    m1=$(free_kib)
    umount "$D/mnt"
    m2=$(free_kib)
    ap umount/frees "used freed" "$([ $((m0 - m1)) -ge 7500 ] && echo used) $([ $((m0 - m2)) -le 1500 ] && echo freed)"
    umount "$D/mnt" 2> /dev/null
fi
# Credentials (0026): root becomes nobody (65534, in /etc/passwd on the host and in Levitate's
# initramfs) through su, chpst and setuidgid; nobody cannot read a root 0600 file, cannot
# signal this (root) shell, and owns what it creates; ps names the user. Only the child
# processes change ids, so it runs on the host too, when the script runs as root.
if [ "$(id -u)" = 0 ]; then
    ap id/root "uid=0(root) gid=0(root)" "$(id | cut -d' ' -f1-2)"
    ap su/nobody "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)" "$(su -s /bin/sh -c id nobody)"
    ap su/ids "65534 65534 65534" "$(su -s /bin/sh -c 'echo $(id -u) $(id -g) $(id -G)' nobody)"
    ap chpst/u "65534" "$(chpst -u nobody id -u)"
    ap setuidgid "65534 65534" "$(setuidgid nobody sh -c 'echo $(id -u) $(id -g)')"
    echo secret > secret && chmod 600 secret
    ap setuidgid/eacces "cat: can't open 'secret': Permission denied
1" "$(setuidgid nobody cat secret 2>&1; echo $?)"
    ap setuidgid/kill-eperm "kill: can't kill pid $$: Operation not permitted
1" "$(setuidgid nobody kill -0 $$ 2>&1; echo $?)"
    mkdir -p open && chmod 777 open
    ap setuidgid/owner "65534 65534" "$(setuidgid nobody touch open/f && ls -ln open/f | awk '{print $3, $4}')"
    setuidgid nobody sleep 3 &
    sp=$!
    sleep 0.3
    ap ps/user "nobody" "$(ps -o user,pid | awk -v p=$sp '$2 == p {print $1}')"
    kill $sp
    wait $sp 2> /dev/null
fi
ap pwdx "$$: $D" "$(pwdx $$)"
# /proc/<pid>/fd: one magic link per open fd, named as Linux names the file; opening the link
# opens the file again. fd 7 of this shell is `fruits`, seen from the children below.
exec 7< fruits
ap ls/proc-fd "7 -> $D/fruits" "$(ls -l /proc/$$/fd | awk '$(NF - 2) == "7" {print $(NF - 2), $(NF - 1), $NF}')"
ap readlink/proc-fd "$D/fruits" "$(readlink /proc/$$/fd/7)"
ap readlink/proc-pipe "pipe:[N]" "$(echo | readlink /proc/self/fd/0 | sed 's/[0-9][0-9]*/N/')"
ap cat/proc-fd "banana" "$(head -n 1 /proc/$$/fd/7)"
ap readlink/proc-exe "$(readlink -f "$(which readlink)")" "$(readlink /proc/self/exe)"
ap readlink/proc-cwd "$D /" "$(readlink /proc/self/cwd) $(readlink /proc/self/root)"
ap cat/fdinfo "pos: 0" "$(awk '$1 == "pos:" {print $1, $2}' /proc/$$/fdinfo/7)"
ap lsof "$$ 7 $D/fruits" "$(lsof | awk -F '\t' -v p=$$ '$1 == p && $3 == 7 {print $1, $3, $4}')"
ap fuser "$$" "$(fuser fruits 2> /dev/null | tr -s ' ' '\n' | grep -x "$$")"
exec 7<&-
exec 7< /proc/$$/status
ap readlink/proc-file "/proc/$$/status" "$(readlink /proc/$$/fd/7)"
exec 7<&-
ap cat/mountinfo "proc" "$(awk '$5 == "/proc" {for (i = 7; $i != "-"; i++) ; print $(i + 1); exit}' /proc/self/mountinfo)"
ap cat/self-mounts "proc" "$(awk '$2 == "/proc" {print $3; exit}' /proc/self/mounts)"
ap ps/T "sh" "$(ps -T -o pid,comm | awk -v p=$$ '$1 == p {print $2; exit}')"
ap ls/task "$$" "$(ls /proc/$$/task | head -n 1)"
ap cat/task-stat "$$ (sh)" "$(cut -d' ' -f1,2 /proc/$$/task/$$/stat)"
# /proc/stat's cpu line: user, nice, system, idle, ... in ticks; this script has used CPU.
ap cat/proc-stat "busy" "$(awk '$1 == "cpu" {print ($2 + $4 > 0) ? "busy" : "idle"}' /proc/stat)"
ap top/cpu "1" "$(top -b -n 1 | grep -c '^CPU:.*usr.*idle')"
ap cat/limits "$(ulimit -n)" "$(awk '/^Max open files/ {print $4}' /proc/self/limits)"
ap pmap "$$ mapped" "$(pmap $$ | sed -n '1s/:.*//p; $s/: [0-9]*K$//p' | tr '\n' ' ' | sed 's/ $//')"
ap sh "3" "$(sh -c 'echo $((1 + 2))')"
ap ash "ok" "$(ash -c 'f() { echo ok; }; f')"
ap hush "6" "$(hush -c 'echo $((2 * 3))')"

# --- shell scenarios ------------------------------------------------------------------------
sc pipeline "3" "$(printf 'a\nb\nc\n' | cat | wc -l)"
echo one > r
echo two >> r
sc redirect-append "one
two" "$(cat r)"
sc redirect-stderr "err" "$(ls /nonexistent-dir > /dev/null 2>&1 || echo err)"
sc redirect-2to1 "yes" "$(ls /nonexistent-dir 2>&1 | grep -q nonexistent && echo yes)"
sc redirect-in "apple" "$(head -2 < fruits | tail -1)"
sc heredoc "x=1
literal \\\$x" "$(x=1; cat <<EOF; cat <<'EOF'
x=$x
EOF
literal \$x
EOF
)"
sc command-subst "len=5" "len=$(echo "$(echo hello)" | wc -c | awk '{print $1 - 1}')"
sc for "1-2-3-" "$(for i in 1 2 3; do printf '%s-' $i; done)"
sc while "3 2 1" "$(n=3; while [ $n -gt 0 ]; do printf '%s ' $n; n=$((n - 1)); done | sed 's/ $//')"
sc case "fruit veg other" "$(for w in apple carrot rock; do case $w in a*|b*) printf 'fruit ';; carrot) printf 'veg ';; *) echo other;; esac; done)"
sc function "6" "$(sq() { echo $(($1 * $2)); }; sq 2 3)"
sc background-wait "ab" "$( (sleep 0.2; printf a > bg1) & (printf b > bg2) & wait; cat bg1 bg2)"
sc exit-status "1 127 3" "$(false; a=$?; nosuchcommand 2>/dev/null; b=$?; sh -c 'exit 3'; echo $a $b $?)"
sc subshell "inner outer" "$(v=outer; (v=inner; printf '%s ' $v); echo $v)"
sc trap-exit "hi
bye" "$(sh -c 'trap "echo bye" EXIT; echo hi')"
sc arith "17" "$((3 * 5 + 2))"
sc and-or "b" "$(false && echo a || echo b)"
sc read-loop "banana,apple,cherry,apple," "$(while read -r f; do printf '%s,' "$f"; done < fruits)"

# Number of distinct applets among the checks above, for the summary.
echo "SUMMARY applets passed=$pass failed=$fail"
[ "$fail" -eq 0 ]
