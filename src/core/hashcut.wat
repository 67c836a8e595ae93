;; cut(len, n, maxBytes): hash sharding of the chunk at IN[0, len), every
;; line of it in the form prepare writes: {"userId":"...", {"itemId":"... or
;; {"itemAttributes":"..., the value free of escapes, the line ending in LF.
;; Returns the number of lines, their bytes regrouped shard by shard at OUT,
;; each shard's end offset in ENDS and its line count in RECS; the histogram
;; (HIST_RECS, HIST_BYTES) gains every line. Returns -1, having changed
;; nothing but scratch space, when a line is not of that form (a blank line,
;; CR, a BOM, a backslash, another key first, no final LF), is over maxBytes,
;; or the chunk holds too many lines: HashCut.cut in hashcut.ts then cuts the
;; chunk in JavaScript, with the same hash, so a key lands in the same shard
;; either way.
;;
;; Why WebAssembly: in JavaScript this loop cost about 60 ns a line (46.56M
;; lines in a GB), most of the time of a hash-mode run.
;;
;; Layout (byte offsets; hashcut.ts has the same constants):
;;   IN          0x000000  chunk, up to CAP = 0x80000 bytes
;;   OUT         0x081000  the regrouped lines
;;   STARTS      0x102000  i32 per line (MAX_LINES = 0x9000)
;;   SIZES       0x126000  i32 per line, its LF included
;;   HASHES      0x14A000  i32 per line
;;   ENDS        0x16E000  i32 per shard (n <= 65535)
;;   RECS        0x1AE000  i32 per shard
;;   AT          0x1EE000  i32 per shard
;;   HIST_RECS   0x22E000  f64 x 4096
;;   HIST_BYTES  0x236000  f64 x 4096
(module
  (memory (export "memory") 36 36)
  (func (export "cut") (param $len i32) (param $n i32) (param $maxBytes i32) (result i32)
    (local $p i32)
    (local $s i32)
    (local $k i32)
    (local $v i32)
    (local $c i32)
    (local $f i32)
    (local $nl i32)
    (local $size i32)
    (local $count i32)
    (local $j i32)
    (local $t i32)
    (local $o i32)
    (local $sum i32)
    (local $a i32)
    ;; Pass 1: each line's start, size and key hash; nothing else is touched.
    (block $lines_done
      (loop $line
        (br_if $lines_done (i32.ge_u (local.get $p) (local.get $len)))
        (local.set $s (local.get $p))
        ;; The shortest line of the form, {"itemId":""}, is 13 bytes and an
        ;; LF: reading up to s + 19 stays inside IN's padding.
        (if (i32.gt_u (i32.add (local.get $s) (i32.const 14)) (local.get $len)) (then (return (i32.const -1))))
        ;; {"
        (if (i32.ne (i32.load16_u (local.get $s)) (i32.const 0x227b)) (then (return (i32.const -1))))
        (if (i32.eq (i32.load8_u offset=8 (local.get $s)) (i32.const 0x22))
          (then
            ;; userId or itemId: "user" or "item", then "Id".
            (if (i32.ne (i32.load16_u offset=6 (local.get $s)) (i32.const 0x6449)) (then (return (i32.const -1))))
            (local.set $c (i32.load offset=2 (local.get $s)))
            (if (i32.and (i32.ne (local.get $c) (i32.const 0x72657375)) (i32.ne (local.get $c) (i32.const 0x6d657469)))
              (then (return (i32.const -1))))
            (local.set $k (i32.add (local.get $s) (i32.const 8))))
          (else
            ;; itemAttributes
            (if (i32.ne (i32.load8_u offset=16 (local.get $s)) (i32.const 0x22)) (then (return (i32.const -1))))
            (if (i64.ne (i64.load offset=2 (local.get $s)) (i64.const 0x727474416d657469)) (then (return (i32.const -1))))
            (if (i32.ne (i32.load offset=10 (local.get $s)) (i32.const 0x74756269)) (then (return (i32.const -1))))
            (if (i32.ne (i32.load16_u offset=14 (local.get $s)) (i32.const 0x7365)) (then (return (i32.const -1))))
            (local.set $k (i32.add (local.get $s) (i32.const 16)))))
        ;; ":"
        (if (i32.ne (i32.load16_u offset=1 (local.get $k)) (i32.const 0x223a)) (then (return (i32.const -1))))
        ;; FNV-1a over the value's bytes, then murmur3's finaliser (byteset.ts hashBytes).
        (local.set $v (i32.add (local.get $k) (i32.const 3)))
        (local.set $f (i32.const 0x811c9dc5))
        (block $value_done
          (loop $value
            (if (i32.ge_u (local.get $v) (local.get $len)) (then (return (i32.const -1))))
            (local.set $c (i32.load8_u (local.get $v)))
            (br_if $value_done (i32.eq (local.get $c) (i32.const 0x22)))
            (if (i32.or (i32.eq (local.get $c) (i32.const 0x5c)) (i32.eq (local.get $c) (i32.const 10)))
              (then (return (i32.const -1))))
            (local.set $f (i32.mul (i32.xor (local.get $f) (local.get $c)) (i32.const 0x01000193)))
            (local.set $v (i32.add (local.get $v) (i32.const 1)))
            (br $value)))
        (local.set $f (i32.xor (local.get $f) (i32.shr_u (local.get $f) (i32.const 16))))
        (local.set $f (i32.mul (local.get $f) (i32.const 0x85ebca6b)))
        (local.set $f (i32.xor (local.get $f) (i32.shr_u (local.get $f) (i32.const 13))))
        (local.set $f (i32.mul (local.get $f) (i32.const 0xc2b2ae35)))
        (local.set $f (i32.xor (local.get $f) (i32.shr_u (local.get $f) (i32.const 16))))
        ;; The rest of the line, to its LF.
        (local.set $nl (i32.add (local.get $v) (i32.const 1)))
        (block $rest_done
          (loop $rest
            (if (i32.ge_u (local.get $nl) (local.get $len)) (then (return (i32.const -1))))
            (local.set $c (i32.load8_u (local.get $nl)))
            (br_if $rest_done (i32.eq (local.get $c) (i32.const 10)))
            (if (i32.eq (local.get $c) (i32.const 13)) (then (return (i32.const -1))))
            (local.set $nl (i32.add (local.get $nl) (i32.const 1)))
            (br $rest)))
        (local.set $size (i32.add (i32.sub (local.get $nl) (local.get $s)) (i32.const 1)))
        (if (i32.gt_u (local.get $size) (local.get $maxBytes)) (then (return (i32.const -1))))
        (if (i32.ge_u (local.get $count) (i32.const 0x9000)) (then (return (i32.const -1))))
        (local.set $a (i32.shl (local.get $count) (i32.const 2)))
        (i32.store offset=0x102000 (local.get $a) (local.get $s))
        (i32.store offset=0x126000 (local.get $a) (local.get $size))
        (i32.store offset=0x14A000 (local.get $a) (local.get $f))
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (local.set $p (i32.add (local.get $nl) (i32.const 1)))
        (br $line)))
    ;; Pass 2: shards, their sizes and the histogram.
    (memory.fill (i32.const 0x16E000) (i32.const 0) (i32.shl (local.get $n) (i32.const 2)))
    (memory.fill (i32.const 0x1AE000) (i32.const 0) (i32.shl (local.get $n) (i32.const 2)))
    (local.set $j (i32.const 0))
    (block $shards_done
      (loop $shards
        (br_if $shards_done (i32.ge_u (local.get $j) (local.get $count)))
        (local.set $a (i32.shl (local.get $j) (i32.const 2)))
        (local.set $f (i32.load offset=0x14A000 (local.get $a)))
        (local.set $size (i32.load offset=0x126000 (local.get $a)))
        ;; floor(h / 2^32 * n), exactly: h * n < 2^48.
        (local.set $t
          (i32.wrap_i64
            (i64.shr_u
              (i64.mul (i64.extend_i32_u (local.get $f)) (i64.extend_i32_u (local.get $n)))
              (i64.const 32))))
        ;; Reuse the hash slot for the shard, for the copy pass.
        (i32.store offset=0x14A000 (local.get $a) (local.get $t))
        (local.set $o (i32.shl (local.get $t) (i32.const 2)))
        (i32.store offset=0x16E000 (local.get $o) (i32.add (i32.load offset=0x16E000 (local.get $o)) (local.get $size)))
        (i32.store offset=0x1AE000 (local.get $o) (i32.add (i32.load offset=0x1AE000 (local.get $o)) (i32.const 1)))
        ;; The histogram's bucket: the top 12 bits of the hash.
        (local.set $o (i32.shl (i32.shr_u (local.get $f) (i32.const 20)) (i32.const 3)))
        (f64.store offset=0x22E000 (local.get $o) (f64.add (f64.load offset=0x22E000 (local.get $o)) (f64.const 1)))
        (f64.store offset=0x236000 (local.get $o)
          (f64.add (f64.load offset=0x236000 (local.get $o)) (f64.convert_i32_u (local.get $size))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $shards)))
    ;; Pass 3: where each shard starts in OUT; ENDS becomes each one's end.
    (local.set $t (i32.const 0))
    (local.set $sum (i32.const 0))
    (block $sums_done
      (loop $sums
        (br_if $sums_done (i32.ge_u (local.get $t) (local.get $n)))
        (local.set $o (i32.shl (local.get $t) (i32.const 2)))
        (i32.store offset=0x1EE000 (local.get $o) (local.get $sum))
        (local.set $sum (i32.add (local.get $sum) (i32.load offset=0x16E000 (local.get $o))))
        (i32.store offset=0x16E000 (local.get $o) (local.get $sum))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $sums)))
    ;; Pass 4: every line to its shard's place.
    (local.set $j (i32.const 0))
    (block $copy_done
      (loop $copy
        (br_if $copy_done (i32.ge_u (local.get $j) (local.get $count)))
        (local.set $a (i32.shl (local.get $j) (i32.const 2)))
        (local.set $o (i32.shl (i32.load offset=0x14A000 (local.get $a)) (i32.const 2)))
        (local.set $size (i32.load offset=0x126000 (local.get $a)))
        (local.set $t (i32.load offset=0x1EE000 (local.get $o)))
        (i32.store offset=0x1EE000 (local.get $o) (i32.add (local.get $t) (local.get $size)))
        ;; Eight bytes at a time, the last eight overlapping the ones before
        ;; (a line is at least 14 bytes), so nothing is written past the
        ;; line's end: memory.copy costs a call per line.
        (local.set $s (i32.load offset=0x102000 (local.get $a)))
        (local.set $t (i32.add (i32.const 0x81000) (local.get $t)))
        (local.set $v (i32.sub (local.get $size) (i32.const 8)))
        (local.set $k (i32.const 0))
        (block $words_done
          (loop $words
            (br_if $words_done (i32.ge_u (local.get $k) (local.get $v)))
            (i64.store (i32.add (local.get $t) (local.get $k)) (i64.load (i32.add (local.get $s) (local.get $k))))
            (local.set $k (i32.add (local.get $k) (i32.const 8)))
            (br $words)))
        (i64.store (i32.add (local.get $t) (local.get $v)) (i64.load (i32.add (local.get $s) (local.get $v))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $copy)))
    (local.get $count)))
