;; cut(len, pos, lines, out, delim, col, width, maxLine, headerLen):
;; the fast path's scan (io/fast-scan.ts) for a source whose every record goes
;; to the spill partitions, over the whole lines at IN[pos, len): each line
;; whose id the byte path takes as it is becomes the record `id TAB 0x01 LF`
;; of its id's partition (the hash's top 8 bits of 256: byteset.ts hashBytes
;; and partitionOf), and the records come out regrouped at `out`, partition
;; by partition, each in input order: partition t's are out[ENDS[t-1], ENDS[t])
;; (out for t = 0), RECS[t] of them. It stops at the first line it cannot
;; take alone (no LF, blank or starting with a space, a TAB or CR, longer than
;; maxLine, the wrong number of fields, an id empty, over 256 bytes or with a
;; byte outside IDOK, or one of fast-scan.ts's rarer looks: a null marker, a
;; whole number written as a decimal, a first ' or #, the header's id column
;; name) and returns
;; where it starts; the Scanner reads that line in JavaScript, then calls
;; again. Returns len when it took every line; LINES holds the lines taken.
;;
;; Why WebAssembly: in JavaScript the loop and the partition writes took
;; about 0.4 s a million lines, most of a run's CPU once the drain was here too.
;;
;; Layout (byte offsets; idcut.ts has the same constants):
;;   LINES    0      i32
;;   IDOK     64     u8 x 256: 1 where an id may hold the byte
;;   MARKLEN  320    u8 x 257: 1 where a null marker has that length
;;   HEADER   768    the id column's name in the header, up to 256 bytes (headerLen; -1 for none)
;;   RECS     1024   i32 x 256
;;   ENDS     2048   i32 x 256
;;   AT       3072   i32 x 256
;;   MARKERS  4096   the null markers: a length byte, then the bytes, each; a 0 length ends them
;;   IN       8192   the chunk, then LF and slack; `lines` (i32 pairs) and `out` after it (idcut.ts)
(module
  (memory (export "memory") 1)
  (func (export "cut") (param $len i32) (param $pos i32) (param $lines i32) (param $out i32)
    (param $delim i32) (param $col i32) (param $width i32) (param $maxLine i32)
    (param $headerLen i32) (result i32)
    (local $p i32)
    (local $end i32)
    (local $i i32)
    (local $c i32)
    (local $f i32)
    (local $fs i32)
    (local $fe i32)
    (local $h i32)
    (local $k i32)
    (local $n i32)
    (local $t i32)
    (local $sum i32)
    (local $j i32)
    (local $klen i32)
    (local $src i32)
    (local $dst i32)
    (local $n2 i32)
    (local.set $end (i32.add (i32.const 8192) (local.get $len)))
    (local.set $p (i32.add (i32.const 8192) (local.get $pos)))
    ;; RECS and ENDS count from zero.
    (memory.fill (i32.const 1024) (i32.const 0) (i32.const 2048))
    (block $stop
      (loop $line
        (br_if $stop (i32.ge_u (local.get $p) (local.get $end)))
        ;; Blank, or a leading space, TAB or CR: the Scanner's.
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $stop
          (i32.or
            (i32.or (i32.eq (local.get $c) (i32.const 10)) (i32.eq (local.get $c) (i32.const 32)))
            (i32.or (i32.eq (local.get $c) (i32.const 9)) (i32.eq (local.get $c) (i32.const 13)))))
        ;; The fields up to the LF (a sentinel LF follows the chunk).
        (local.set $f (i32.const 0))
        (local.set $fs (local.get $p))
        (local.set $fe (i32.const -1))
        (local.set $i (local.get $p))
        (block $eol
          (loop $byte
            (local.set $c (i32.load8_u (local.get $i)))
            (br_if $eol (i32.eq (local.get $c) (i32.const 10)))
            (if (i32.eq (local.get $c) (local.get $delim))
              (then
                (if (i32.eq (local.get $f) (local.get $col)) (then (local.set $fe (local.get $i))))
                (local.set $f (i32.add (local.get $f) (i32.const 1)))
                (if (i32.eq (local.get $f) (local.get $col))
                  (then (local.set $fs (i32.add (local.get $i) (i32.const 1)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $byte)))
        ;; No LF before the end: the last line of the input, the Scanner's.
        (br_if $stop (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $k (local.get $i))
        ;; A CR before the LF is no part of the line (the line is not empty: its first byte is none of these).
        (if (i32.eq (i32.load8_u (i32.sub (local.get $k) (i32.const 1))) (i32.const 13))
          (then (local.set $k (i32.sub (local.get $k) (i32.const 1)))))
        (br_if $stop (i32.gt_s (i32.sub (local.get $k) (local.get $p)) (local.get $maxLine)))
        (br_if $stop (i32.ne (i32.add (local.get $f) (i32.const 1)) (local.get $width)))
        (if (i32.eq (local.get $fe) (i32.const -1))
          (then (local.set $fe (select (local.get $k) (local.get $fs) (i32.eq (local.get $f) (local.get $col))))))
        ;; The id trimmed of spaces and TABs.
        (block $trimmed
          (loop $front
            (br_if $trimmed (i32.ge_u (local.get $fs) (local.get $fe)))
            (local.set $c (i32.load8_u (local.get $fs)))
            (br_if $trimmed (i32.and (i32.ne (local.get $c) (i32.const 32)) (i32.ne (local.get $c) (i32.const 9))))
            (local.set $fs (i32.add (local.get $fs) (i32.const 1)))
            (br $front)))
        (block $trimmed2
          (loop $back
            (br_if $trimmed2 (i32.ge_u (local.get $fs) (local.get $fe)))
            (local.set $c (i32.load8_u (i32.sub (local.get $fe) (i32.const 1))))
            (br_if $trimmed2 (i32.and (i32.ne (local.get $c) (i32.const 32)) (i32.ne (local.get $c) (i32.const 9))))
            (local.set $fe (i32.sub (local.get $fe) (i32.const 1)))
            (br $back)))
        (local.set $klen (i32.sub (local.get $fe) (local.get $fs)))
        (br_if $stop (i32.or (i32.eqz (local.get $klen)) (i32.gt_s (local.get $klen) (i32.const 256))))
        ;; The rarer looks (fast-scan.ts rareLook): those lines are the Scanner's. A null marker?
        (if (i32.load8_u offset=320 (local.get $klen))
          (then
            (local.set $src (i32.const 4096))
            (block $markers
              (loop $marker
                (local.set $n2 (i32.load8_u (local.get $src)))
                (br_if $markers (i32.eqz (local.get $n2)))
                (if (i32.eq (local.get $n2) (local.get $klen))
                  (then
                    (local.set $j (i32.const 0))
                    (block $other
                      (loop $mbyte
                        (br_if $stop (i32.eq (local.get $j) (local.get $klen)))
                        (br_if $other
                          (i32.ne (i32.load8_u (i32.add (local.get $fs) (local.get $j)))
                            (i32.load8_u offset=1 (i32.add (local.get $src) (local.get $j)))))
                        (local.set $j (i32.add (local.get $j) (i32.const 1)))
                        (br $mbyte)))))
                (local.set $src (i32.add (local.get $src) (i32.add (local.get $n2) (i32.const 1))))
                (br $marker)))))
        ;; A whole number written as a decimal (1001.0)?
        (if (i32.eq (i32.load8_u (i32.sub (local.get $fe) (i32.const 1))) (i32.const 48))
          (then
            (local.set $j (i32.sub (local.get $fe) (i32.const 1)))
            (block $zeros
              (loop $zero
                (br_if $zeros (i32.le_u (local.get $j) (local.get $fs)))
                (br_if $zeros (i32.ne (i32.load8_u (local.get $j)) (i32.const 48)))
                (local.set $j (i32.sub (local.get $j) (i32.const 1)))
                (br $zero)))
            (br_if $stop (i32.eq (i32.load8_u (local.get $j)) (i32.const 46)))))
        (local.set $c (i32.load8_u (local.get $fs)))
        (br_if $stop (i32.or (i32.eq (local.get $c) (i32.const 39)) (i32.eq (local.get $c) (i32.const 35))))
        ;; The header's own name (files joined with cat): the Scanner's.
        (if (i32.eq (local.get $klen) (local.get $headerLen))
          (then
            (local.set $j (i32.const 0))
            (block $differs
              (loop $hbyte
                (br_if $stop (i32.eq (local.get $j) (local.get $klen)))
                (br_if $differs
                  (i32.ne (i32.load8_u (i32.add (local.get $fs) (local.get $j))) (i32.load8_u offset=768 (local.get $j))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $hbyte)))))
        ;; Every byte one an id may hold, hashed as it goes (FNV-1a, then murmur3's finaliser).
        (local.set $h (i32.const 0x811c9dc5))
        (local.set $j (local.get $fs))
        (block $hashed
          (loop $idbyte
            (br_if $hashed (i32.ge_u (local.get $j) (local.get $fe)))
            (local.set $c (i32.load8_u (local.get $j)))
            (br_if $stop (i32.eqz (i32.load8_u offset=64 (local.get $c))))
            (local.set $h (i32.mul (i32.xor (local.get $h) (local.get $c)) (i32.const 0x01000193)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $idbyte)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
        (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
        (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
        (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
        (local.set $t (i32.shr_u (local.get $h) (i32.const 24)))
        ;; Taken: its id's place and partition, and the partition's count and bytes.
        (i32.store (i32.add (local.get $lines) (i32.shl (local.get $n) (i32.const 3))) (local.get $fs))
        (i32.store offset=4 (i32.add (local.get $lines) (i32.shl (local.get $n) (i32.const 3)))
          (i32.or (i32.shl (local.get $klen) (i32.const 8)) (local.get $t)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $t (i32.shl (local.get $t) (i32.const 2)))
        (i32.store offset=1024 (local.get $t) (i32.add (i32.load offset=1024 (local.get $t)) (i32.const 1)))
        (i32.store offset=2048 (local.get $t)
          (i32.add (i32.load offset=2048 (local.get $t)) (i32.add (local.get $klen) (i32.const 3))))
        (local.set $p (i32.add (local.get $i) (i32.const 1)))
        (br $line)))
    ;; Each partition's start (AT) and end (ENDS) in out.
    (local.set $sum (local.get $out))
    (local.set $t (i32.const 0))
    (block $sums
      (loop $part
        (br_if $sums (i32.ge_u (local.get $t) (i32.const 1024)))
        (i32.store offset=3072 (local.get $t) (local.get $sum))
        (local.set $sum (i32.add (local.get $sum) (i32.load offset=2048 (local.get $t))))
        (i32.store offset=2048 (local.get $t) (local.get $sum))
        (local.set $t (i32.add (local.get $t) (i32.const 4)))
        (br $part)))
    ;; The records in input order, each to its partition's next place.
    (local.set $i (i32.const 0))
    (block $placed
      (loop $rec
        (br_if $placed (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $src (i32.load (i32.add (local.get $lines) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $c (i32.load offset=4 (i32.add (local.get $lines) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $klen (i32.shr_u (local.get $c) (i32.const 8)))
        (local.set $t (i32.shl (i32.and (local.get $c) (i32.const 255)) (i32.const 2)))
        (local.set $dst (i32.load offset=3072 (local.get $t)))
        ;; Exact: the next record of this partition may not be the next written.
        (local.set $j (i32.const 0))
        (block $words
          (loop $word
            (br_if $words (i32.gt_s (i32.add (local.get $j) (i32.const 8)) (local.get $klen)))
            (i64.store (i32.add (local.get $dst) (local.get $j)) (i64.load (i32.add (local.get $src) (local.get $j))))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $word)))
        (block $bytes
          (loop $byte
            (br_if $bytes (i32.ge_s (local.get $j) (local.get $klen)))
            (i32.store8 (i32.add (local.get $dst) (local.get $j)) (i32.load8_u (i32.add (local.get $src) (local.get $j))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $byte)))
        (local.set $dst (i32.add (local.get $dst) (local.get $klen)))
        (i32.store16 (local.get $dst) (i32.const 0x0109))
        (i32.store8 offset=2 (local.get $dst) (i32.const 10))
        (i32.store offset=3072 (local.get $t) (i32.add (local.get $dst) (i32.const 3)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rec)))
    (i32.store (i32.const 0) (local.get $n))
    (i32.sub (local.get $p) (i32.const 8192)))
)
