;; drain(in, len, table, mask, out, preLen, sufLen): one spill partition's
;; lines, `key TAB payload LF`, at [in, in + len), deduplicated in input order:
;; the first line of each key is kept, written at `out` as its payload and an
;; LF, or (payload 0x01, when preLen >= 0) as PREFIX + key + SUFFIX; a line
;; with an empty payload (a marker) only marks its key; a later line of a key
;; already seen counts as a duplicate. Returns the end of the output, or -1
;; when a line has no TAB or no final LF. Writes the kept lines' count at
;; LINES and the duplicates' at DUPS. drain.ts (DrainTable) lays out the
;; memory, zeroes nothing itself: the table is cleared here.
;;
;; The table is open addressing, (key start, hash) pairs, the keys read in
;; place in the input (no copy): a key never holds a TAB (spill.ts), so two
;; keys whose bytes match up to and including the first one's TAB are equal.
;; Copies go 8 bytes at a time and may run up to 7 bytes past their end:
;; the input and output regions keep that slack (drain.ts).
;;
;; Why WebAssembly: the same loop in JavaScript (ByteSet, byte loops) took
;; 0.2 s a million lines, most of the drain.
;;
;; Layout (byte offsets; drain.ts has the same constants):
;;   LINES   0    i32
;;   DUPS    4    i32
;;   PREFIX  64   up to 56 bytes
;;   SUFFIX  128  up to 56 bytes
;;   IN      256  the partition's bytes, then TAB LF, then the table and the output (drain.ts)
(module
  (memory (export "memory") 1)
  (func $copy (param $dst i32) (param $src i32) (param $n i32)
    (local $j i32)
    (block $done
      (loop $word
        (br_if $done (i32.ge_s (local.get $j) (local.get $n)))
        (i64.store (i32.add (local.get $dst) (local.get $j)) (i64.load (i32.add (local.get $src) (local.get $j))))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br $word))))
  (func (export "drain") (param $in i32) (param $len i32) (param $table i32) (param $mask i32)
    (param $out i32) (param $preLen i32) (param $sufLen i32) (result i32)
    (local $p i32)
    (local $end i32)
    (local $k i32)
    (local $c i32)
    (local $h i32)
    (local $tab i32)
    (local $lf i32)
    (local $i i32)
    (local $slot i32)
    (local $s i32)
    (local $j i32)
    (local $new i32)
    (local $klen i32)
    (local $lines i32)
    (local $dups i32)
    (memory.fill (local.get $table) (i32.const 0) (i32.shl (i32.add (local.get $mask) (i32.const 1)) (i32.const 3)))
    (local.set $p (local.get $in))
    (local.set $end (i32.add (local.get $in) (local.get $len)))
    (block $all
      (loop $line
        (br_if $all (i32.ge_u (local.get $p) (local.get $end)))
        ;; The key up to its TAB, hashed as it goes (FNV-1a, then murmur3's finaliser).
        (local.set $k (local.get $p))
        (local.set $h (i32.const 0x811c9dc5))
        (block $key
          (loop $byte
            (local.set $c (i32.load8_u (local.get $p)))
            (br_if $key (i32.eq (local.get $c) (i32.const 9)))
            (if (i32.eq (local.get $c) (i32.const 10)) (then (return (i32.const -1))))
            (local.set $h (i32.mul (i32.xor (local.get $h) (local.get $c)) (i32.const 0x01000193)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $byte)))
        (local.set $tab (local.get $p))
        (local.set $klen (i32.sub (local.get $tab) (local.get $k)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
        (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
        (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
        ;; The payload up to its LF (the sentinel after the input ends the last).
        (local.set $lf (i32.add (local.get $tab) (i32.const 1)))
        (block $payload
          (loop $pbyte
            (br_if $payload (i32.eq (i32.load8_u (local.get $lf)) (i32.const 10)))
            (local.set $lf (i32.add (local.get $lf) (i32.const 1)))
            (br $pbyte)))
        (if (i32.ge_u (local.get $lf) (local.get $end)) (then (return (i32.const -1))))
        ;; Seen before?
        (local.set $i (i32.and (local.get $h) (local.get $mask)))
        (local.set $new (i32.const 1))
        (block $probed
          (loop $probe
            (local.set $slot (i32.add (local.get $table) (i32.shl (local.get $i) (i32.const 3))))
            (local.set $s (i32.load (local.get $slot)))
            (if (i32.eqz (local.get $s))
              (then
                (i32.store (local.get $slot) (local.get $k))
                (i32.store offset=4 (local.get $slot) (local.get $h))
                (br $probed)))
            (if (i32.eq (i32.load offset=4 (local.get $slot)) (local.get $h))
              (then
                ;; The key and its TAB, byte for byte.
                (local.set $j (i32.const 0))
                (block $differ
                  (loop $cmp
                    (br_if $differ
                      (i32.ne (i32.load8_u (i32.add (local.get $s) (local.get $j)))
                        (i32.load8_u (i32.add (local.get $k) (local.get $j)))))
                    (if (i32.eq (local.get $j) (local.get $klen))
                      (then
                        (local.set $new (i32.const 0))
                        (br $probed)))
                    (local.set $j (i32.add (local.get $j) (i32.const 1)))
                    (br $cmp)))))
            (local.set $i (i32.and (i32.add (local.get $i) (i32.const 1)) (local.get $mask)))
            (br $probe)))
        (if (i32.gt_u (local.get $lf) (i32.add (local.get $tab) (i32.const 1)))
          (then
            (if (i32.eqz (local.get $new))
              (then (local.set $dups (i32.add (local.get $dups) (i32.const 1))))
              (else
                (local.set $lines (i32.add (local.get $lines) (i32.const 1)))
                (if (i32.and
                      (i32.ge_s (local.get $preLen) (i32.const 0))
                      (i32.and
                        (i32.eq (local.get $lf) (i32.add (local.get $tab) (i32.const 2)))
                        (i32.eq (i32.load8_u offset=1 (local.get $tab)) (i32.const 1))))
                  (then
                    (call $copy (local.get $out) (i32.const 64) (local.get $preLen))
                    (local.set $out (i32.add (local.get $out) (local.get $preLen)))
                    (call $copy (local.get $out) (local.get $k) (local.get $klen))
                    (local.set $out (i32.add (local.get $out) (local.get $klen)))
                    (call $copy (local.get $out) (i32.const 128) (local.get $sufLen))
                    (local.set $out (i32.add (local.get $out) (local.get $sufLen))))
                  (else
                    ;; The payload and its LF.
                    (call $copy (local.get $out) (i32.add (local.get $tab) (i32.const 1))
                      (i32.sub (local.get $lf) (local.get $tab)))
                    (local.set $out (i32.add (local.get $out) (i32.sub (local.get $lf) (local.get $tab))))))))))
        (local.set $p (i32.add (local.get $lf) (i32.const 1)))
        (br $line)))
    (i32.store (i32.const 0) (local.get $lines))
    (i32.store (i32.const 4) (local.get $dups))
    (local.get $out))
)
