;; scan(len, atEnd, maxRecs, limit, keys): the report's tally over every line of
;; a window IN[0, len) of a piece, for the service's usual lines only (the
;; shape out/key-scan.wat accepts, the same checks byte for byte): each
;; accepted line's key span and hash (byteset.ts hashBytes), its ids'
;; count, the scores at ranks 1, 5, 10 and last as doubles (exactly as
;; core/report.ts parseNumber reads them; NaN where the line has none), and
;; its ids counted: an id that is a whole number below `limit` written as
;; CountTable.addOne takes it directly (1 to 7 digits, no leading zero) in
;; the counters at COUNTS, any other id's span to OTHERS for the caller's
;; table. A line the scan refuses, or whose score needs parseNumber's slow
;; path, is a record with field 0 and nothing counted: the caller parses it
;; in JavaScript. Returns the number of records; stops early at maxRecs, or
;; before a last line that has no LF in the window when atEnd is 0. The
;; caller puts a 0 byte at IN[len] (no rule of the shape takes it).
;;
;; Why WebAssembly: in JavaScript a lane's tally cost twice its parsing,
;; most of it a random counter access per id behind the parser's spans.
;;
;; With `keys` 1, a counted line's key also goes to the shared keys table
;; through the imports (report-keys.wat's begin, word, end on the same
;; thread): its record's field word has bit 2 set when the table has it,
;; else the caller adds it. With `keys` 0 the imports are never called.
;;
;; Layout (byte offsets; report-scan.ts has the same constants):
;;   IN      0x000000  the window, up to CAP = 0x200000 bytes, then its 0 byte
;;   RECS    0x210000  64 bytes a line (MAX_RECS = 0x4000): i32s start, end
;;                     (CR of CRLF left out), next line's start, field (0
;;                     refused, 1 userId, 2 itemId; bit 2 the key in the
;;                     shared table) with the line's count of OTHERS above
;;                     its 3 bits, key start, key end, key hash,
;;                     ids; then the four scores as f64s
;;   OTHERS  0x310000  (start, end) of each id not counted directly, 0xB0000
;;                     pairs (a window holds at most CAP / 3 ids)
;;   SCRATCH 0x890000  the direct ids' values of the line being scanned
;;   POW10   0xB50000  10^0 .. 10^22 as f64s, written by the caller
;;   SPANS   0xB50100  the line's score spans at ranks 1, 5, 10 and its last
;;   COUNTS  0xB60000  a u32 counter per direct id value, grown as values come
(module
  (import "keys" "begin" (func $key_begin (param i32) (result i32)))
  (import "keys" "word" (func $key_word (param i32) (param i64)))
  (import "keys" "end" (func $key_end (param i32) (result i32)))
  (import "keys" "touch" (func $key_touch (param i32)))
  (memory (export "memory") 182)
  ;; Direct ids are values below this; the counters COUNTS holds; OTHERS used.
  (global $limit (mut i32) (i32.const 0))
  (global $keys (mut i32) (i32.const 0))
  (global $cap (mut i32) (i32.const 0))
  (global $others (mut i32) (i32.const 0))
  ;; The line being scanned: its direct ids in SCRATCH, its other ids past $others, its scores.
  (global $nd (mut i32) (i32.const 0))
  (global $no (mut i32) (i32.const 0))
  (global $ns (mut i32) (i32.const 0))
  (global $slow (mut i32) (i32.const 0))
  (func $fmix (param $h i32) (result i32)
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
    (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
  ;; The line at s in the shape: the place after its final `}`, or -1. The
  ;; string and digit runs are found 16 bytes at a time, as in key-scan.wat.
  (func $line (param $s i32) (param $r i32) (result i32)
    (local $p i32)
    (local $q i32)
    (local $c i32)
    (local $h i32)
    (local $a i32)
    (local $m i32)
    (local $ids i32)
    (local $scores i32)
    (local $t i32)
    (local $w i64)
    (local $v v128)
    (global.set $nd (i32.const 0))
    (global.set $no (i32.const 0))
    (global.set $ns (i32.const 0))
    ;; {"input":{"
    (if (i64.ne (i64.load (local.get $s)) (i64.const 0x227475706e69227b)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load offset=7 (local.get $s)) (i32.const 0x227b3a22)) (then (return (i32.const -1))))
    ;; userId":" or itemId":"
    (local.set $w (i64.load offset=11 (local.get $s)))
    (if (i64.eq (local.get $w) (i64.const 0x3a22644972657375))
      (then (i32.store offset=0x21000c (local.get $r) (i32.const 1)))
      (else
        (if (i64.ne (local.get $w) (i64.const 0x3a2264496d657469)) (then (return (i32.const -1))))
        (i32.store offset=0x21000c (local.get $r) (i32.const 2))))
    (if (i32.ne (i32.load8_u offset=19 (local.get $s)) (i32.const 0x22)) (then (return (i32.const -1))))
    ;; The key, then its hash as hashBytes takes it (FNV-1a, then murmur3's finaliser).
    (local.set $p (i32.add (local.get $s) (i32.const 20)))
    (local.set $q (local.get $p))
    (block $str_done_key
      (loop $str_key
        (local.set $m
          (i8x16.bitmask
            (v128.or
              (i8x16.lt_u (local.tee $v (v128.load (local.get $q))) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
              (v128.or
                (i8x16.eq (local.get $v) (v128.const i8x16 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34))
                (i8x16.eq (local.get $v) (v128.const i8x16 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92))))))
        (br_if $str_done_key (local.get $m))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (br $str_key)))
    (local.set $q (i32.add (local.get $q) (i32.ctz (local.get $m))))
    (if (i32.ne (i32.load8_u (local.get $q)) (i32.const 0x22)) (then (return (i32.const -1))))
    (i32.store offset=0x210010 (local.get $r) (local.get $p))
    (i32.store offset=0x210014 (local.get $r) (local.get $q))
    (local.set $h (i32.const 0x811c9dc5))
    (block $hashed
      (loop $byte
        (br_if $hashed (i32.ge_u (local.get $p) (local.get $q)))
        (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $p))) (i32.const 0x01000193)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $byte)))
    (i32.store offset=0x210018 (local.get $r) (call $fmix (local.get $h)))
    ;; },"output":{"recommendedItems":[
    (if (i64.ne (i64.load offset=1 (local.get $q)) (i64.const 0x757074756f222c7d)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=9 (local.get $q)) (i64.const 0x636572227b3a2274)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=17 (local.get $q)) (i64.const 0x6465646e656d6d6f)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=25 (local.get $q)) (i64.const 0x5b3a22736d657449)) (then (return (i32.const -1))))
    (local.set $p (i32.add (local.get $q) (i32.const 33)))
    ;; The ids: each a direct value to SCRATCH or its span to OTHERS, kept only if the line is.
    (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x5d))
      (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
      (else
        (loop $id
          (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x22)) (then (return (i32.const -1))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (local.set $q (local.get $p))
          (block $str_done_id
            (loop $str_id
              (local.set $m
                (i8x16.bitmask
                  (v128.or
                    (i8x16.lt_u (local.tee $v (v128.load (local.get $q))) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                    (v128.or
                      (i8x16.eq (local.get $v) (v128.const i8x16 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34 34))
                      (i8x16.eq (local.get $v) (v128.const i8x16 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92 92))))))
              (br_if $str_done_id (local.get $m))
              (local.set $q (i32.add (local.get $q) (i32.const 16)))
              (br $str_id)))
          (local.set $q (i32.add (local.get $q) (i32.ctz (local.get $m))))
          (if (i32.ne (i32.load8_u (local.get $q)) (i32.const 0x22)) (then (return (i32.const -1))))
          (local.set $ids (i32.add (local.get $ids) (i32.const 1)))
          ;; Its value when it is 1 to 7 digits without a leading zero, else -1.
          (local.set $a (i32.const -1))
          (local.set $h (i32.sub (local.get $q) (local.get $p)))
          (if (i32.and
                (i32.le_u (i32.sub (local.get $h) (i32.const 1)) (i32.const 6))
                (i32.or (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x30)) (i32.eq (local.get $h) (i32.const 1))))
            (then
              (local.set $a (i32.const 0))
              (local.set $t (local.get $p))
              (block $num_done
                (loop $num
                  (local.set $c (i32.sub (i32.load8_u (local.get $t)) (i32.const 48)))
                  (if (i32.gt_u (local.get $c) (i32.const 9))
                    (then
                      (local.set $a (i32.const -1))
                      (br $num_done)))
                  (local.set $a (i32.add (i32.mul (local.get $a) (i32.const 10)) (local.get $c)))
                  (local.set $t (i32.add (local.get $t) (i32.const 1)))
                  (br_if $num (i32.lt_u (local.get $t) (local.get $q)))))))
          ;; Unsigned: -1 is never below the limit.
          (if (i32.lt_u (local.get $a) (global.get $limit))
            (then
              (i32.store offset=0x890000 (i32.shl (global.get $nd) (i32.const 2)) (local.get $a))
              (global.set $nd (i32.add (global.get $nd) (i32.const 1))))
            (else
              (local.set $t (i32.shl (i32.add (global.get $others) (global.get $no)) (i32.const 3)))
              (i32.store offset=0x310000 (local.get $t) (local.get $p))
              (i32.store offset=0x310004 (local.get $t) (local.get $q))
              (global.set $no (i32.add (global.get $no) (i32.const 1)))))
          (local.set $c (i32.load8_u offset=1 (local.get $q)))
          (local.set $p (i32.add (local.get $q) (i32.const 2)))
          (br_if $id (i32.eq (local.get $c) (i32.const 0x2c)))
          (if (i32.ne (local.get $c) (i32.const 0x5d)) (then (return (i32.const -1)))))))
    (i32.store offset=0x21001c (local.get $r) (local.get $ids))
    ;; ,"scores":[ JSON numbers (the grammar's every rule) ], no more of them than ids;
    ;; the spans of the 1st, 5th, 10th and last to SPANS.
    (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x2c))
      (then
        (if (i64.ne (i64.load (local.get $p)) (i64.const 0x7365726f6373222c)) (then (return (i32.const -1))))
        (if (i32.ne (i32.load offset=7 (local.get $p)) (i32.const 0x5b3a2273)) (then (return (i32.const -1))))
        (local.set $p (i32.add (local.get $p) (i32.const 11)))
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x5d))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (loop $score
              (local.set $t (local.get $p))
              (local.set $c (i32.load8_u (local.get $p)))
              (if (i32.eq (local.get $c) (i32.const 0x2d))
                (then
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (local.set $c (i32.load8_u (local.get $p)))))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (if (i32.ne (local.get $c) (i32.const 0x30))
                (then
                  (if (i32.gt_u (i32.sub (local.get $c) (i32.const 49)) (i32.const 8)) (then (return (i32.const -1))))
                  (block $dig_done_int
                    (loop $dig_int
                      (local.set $m
                        (i8x16.bitmask
                          (i8x16.gt_u
                            (i8x16.sub (v128.load (local.get $p)) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
                            (v128.const i8x16 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9))))
                      (br_if $dig_done_int (local.get $m))
                      (local.set $p (i32.add (local.get $p) (i32.const 16)))
                      (br $dig_int)))
                  (local.set $p (i32.add (local.get $p) (i32.ctz (local.get $m))))))
              (local.set $c (i32.load8_u (local.get $p)))
              (if (i32.eq (local.get $c) (i32.const 0x2e))
                (then
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (if (i32.gt_u (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)) (i32.const 9)) (then (return (i32.const -1))))
                  (block $dig_done_frac
                    (loop $dig_frac
                      (local.set $m
                        (i8x16.bitmask
                          (i8x16.gt_u
                            (i8x16.sub (v128.load (local.get $p)) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
                            (v128.const i8x16 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9))))
                      (br_if $dig_done_frac (local.get $m))
                      (local.set $p (i32.add (local.get $p) (i32.const 16)))
                      (br $dig_frac)))
                  (local.set $p (i32.add (local.get $p) (i32.ctz (local.get $m))))
                  (local.set $c (i32.load8_u (local.get $p)))))
              (if (i32.eq (i32.or (local.get $c) (i32.const 0x20)) (i32.const 0x65))
                (then
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (local.set $c (i32.load8_u (local.get $p)))
                  (if (i32.or (i32.eq (local.get $c) (i32.const 0x2b)) (i32.eq (local.get $c) (i32.const 0x2d)))
                    (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))
                  (if (i32.gt_u (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)) (i32.const 9)) (then (return (i32.const -1))))
                  (block $dig_done_exp
                    (loop $dig_exp
                      (local.set $m
                        (i8x16.bitmask
                          (i8x16.gt_u
                            (i8x16.sub (v128.load (local.get $p)) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))
                            (v128.const i8x16 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9))))
                      (br_if $dig_done_exp (local.get $m))
                      (local.set $p (i32.add (local.get $p) (i32.const 16)))
                      (br $dig_exp)))
                  (local.set $p (i32.add (local.get $p) (i32.ctz (local.get $m))))
                  (local.set $c (i32.load8_u (local.get $p)))))
              ;; The score is [t, p): its span kept at ranks 1, 5 and 10, and as the last so far.
              (if (i32.eqz (local.get $scores))
                (then
                  (i32.store (i32.const 0xB50100) (local.get $t))
                  (i32.store (i32.const 0xB50104) (local.get $p))))
              (if (i32.eq (local.get $scores) (i32.const 4))
                (then
                  (i32.store (i32.const 0xB50108) (local.get $t))
                  (i32.store (i32.const 0xB5010c) (local.get $p))))
              (if (i32.eq (local.get $scores) (i32.const 9))
                (then
                  (i32.store (i32.const 0xB50110) (local.get $t))
                  (i32.store (i32.const 0xB50114) (local.get $p))))
              (i32.store (i32.const 0xB50118) (local.get $t))
              (i32.store (i32.const 0xB5011c) (local.get $p))
              (local.set $scores (i32.add (local.get $scores) (i32.const 1)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br_if $score (i32.eq (local.get $c) (i32.const 0x2c)))
              (if (i32.ne (local.get $c) (i32.const 0x5d)) (then (return (i32.const -1)))))))
        (if (i32.gt_u (local.get $scores) (local.get $ids)) (then (return (i32.const -1))))))
    (global.set $ns (local.get $scores))
    ;; },"error":null}
    (if (i64.ne (i64.load (local.get $p)) (i64.const 0x726f727265222c7d)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=7 (local.get $p)) (i64.const 0x7d6c6c756e3a2272)) (then (return (i32.const -1))))
    (i32.add (local.get $p) (i32.const 15)))
  ;; A JSON number's bytes [s, e) (the grammar already checked) as parseNumber
  ;; reads them on its fast path, operation for operation; $slow set when it
  ;; would take Number() instead.
  (func $number (param $s i32) (param $e i32) (result f64)
    (local $i i32)
    (local $c i32)
    (local $neg i32)
    (local $digits i32)
    (local $scale i32)
    (local $dot i32)
    (local $eneg i32)
    (local $ex i32)
    (local $from i32)
    (local $mant f64)
    (local.set $i (local.get $s))
    (if (i32.eq (i32.load8_u (local.get $i)) (i32.const 45))
      (then
        (local.set $neg (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))))
    (block $mant_done
      (loop $mant_loop
        (br_if $mant_done (i32.ge_u (local.get $i) (local.get $e)))
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.le_u (i32.sub (local.get $c) (i32.const 48)) (i32.const 9))
          (then
            (if (i32.or (f64.ne (local.get $mant) (f64.const 0)) (i32.ne (local.get $c) (i32.const 48)))
              (then (local.set $digits (i32.add (local.get $digits) (i32.const 1)))))
            (local.set $mant
              (f64.add
                (f64.mul (local.get $mant) (f64.const 10))
                (f64.convert_i32_s (i32.sub (local.get $c) (i32.const 48)))))
            (if (local.get $dot) (then (local.set $scale (i32.sub (local.get $scale) (i32.const 1))))))
          (else
            (br_if $mant_done (i32.or (i32.ne (local.get $c) (i32.const 46)) (local.get $dot)))
            (local.set $dot (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $mant_loop)))
    (if (i32.lt_u (local.get $i) (local.get $e))
      (then
        ;; Past the grammar's check this is e or E.
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $c (i32.load8_u (local.get $i)))
        (if (i32.or (i32.eq (local.get $c) (i32.const 45)) (i32.eq (local.get $c) (i32.const 43)))
          (then
            (local.set $eneg (i32.eq (local.get $c) (i32.const 45)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))))
        (local.set $from (local.get $i))
        (block $ex_done
          (loop $ex_loop
            (br_if $ex_done (i32.ge_u (local.get $i) (local.get $e)))
            (local.set $c (i32.sub (i32.load8_u (local.get $i)) (i32.const 48)))
            (if (i32.or (i32.gt_u (local.get $c) (i32.const 9)) (i32.gt_s (local.get $ex) (i32.const 1000)))
              (then
                (global.set $slow (i32.const 1))
                (return (f64.const 0))))
            (local.set $ex (i32.add (i32.mul (local.get $ex) (i32.const 10)) (local.get $c)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $ex_loop)))
        (if (i32.eq (local.get $i) (local.get $from))
          (then
            (global.set $slow (i32.const 1))
            (return (f64.const 0))))
        (local.set $scale
          (if (result i32) (local.get $eneg)
            (then (i32.sub (local.get $scale) (local.get $ex)))
            (else (i32.add (local.get $scale) (local.get $ex)))))))
    (if (i32.or
          (i32.gt_s (local.get $digits) (i32.const 15))
          (i32.or (i32.lt_s (local.get $scale) (i32.const -22)) (i32.gt_s (local.get $scale) (i32.const 22))))
      (then
        (global.set $slow (i32.const 1))
        (return (f64.const 0))))
    (local.set $mant
      (if (result f64) (i32.lt_s (local.get $scale) (i32.const 0))
        (then (f64.div (local.get $mant) (f64.load offset=0xB50000 (i32.shl (i32.sub (i32.const 0) (local.get $scale)) (i32.const 3)))))
        (else (f64.mul (local.get $mant) (f64.load offset=0xB50000 (i32.shl (local.get $scale) (i32.const 3)))))))
    (if (result f64) (local.get $neg)
      (then (f64.neg (local.get $mant)))
      (else (local.get $mant))))
  ;; The score whose span is at SPANS + at, to the record's slot at r + off; NaN when `has` is 0.
  (func $score (param $has i32) (param $at i32) (param $dst i32)
    (f64.store offset=0x210020 (local.get $dst)
      (if (result f64) (local.get $has)
        (then (call $number (i32.load offset=0xB50100 (local.get $at)) (i32.load offset=0xB50104 (local.get $at))))
        (else (f64.const nan)))))
  ;; An accepted line's scores parsed and ids counted; 0 (nothing counted) when a score needs the slow path.
  (func $commit (param $r i32) (result i32)
    (local $ids i32)
    (local $i i32)
    (local $v i32)
    (local $pages i32)
    (local.set $ids (i32.load offset=0x21001c (local.get $r)))
    (global.set $slow (i32.const 0))
    (call $score (i32.gt_u (global.get $ns) (i32.const 0)) (i32.const 0) (local.get $r))
    (call $score (i32.gt_u (global.get $ns) (i32.const 4)) (i32.const 8) (i32.add (local.get $r) (i32.const 8)))
    (call $score (i32.gt_u (global.get $ns) (i32.const 9)) (i32.const 16) (i32.add (local.get $r) (i32.const 16)))
    ;; The last rank's score: scores are no more than ids, so it has one when they are as many.
    (call $score
      (i32.and (i32.gt_u (local.get $ids) (i32.const 0)) (i32.eq (global.get $ns) (local.get $ids)))
      (i32.const 24)
      (i32.add (local.get $r) (i32.const 24)))
    (if (global.get $slow) (then (return (i32.const 0))))
    (block $counted
      (loop $count
        (br_if $counted (i32.ge_u (local.get $i) (global.get $nd)))
        (local.set $v (i32.load offset=0x890000 (i32.shl (local.get $i) (i32.const 2))))
        (if (i32.ge_u (local.get $v) (global.get $cap))
          (then
            ;; Pages for counters up to v at least, the counters' pages doubled at least.
            (local.set $pages
              (i32.sub
                (i32.shr_u (i32.add (i32.shl (i32.add (local.get $v) (i32.const 1)) (i32.const 2)) (i32.const 0xffff)) (i32.const 16))
                (i32.shr_u (global.get $cap) (i32.const 14))))
            (if (i32.lt_u (local.get $pages) (i32.shr_u (global.get $cap) (i32.const 14)))
              (then (local.set $pages (i32.shr_u (global.get $cap) (i32.const 14)))))
            (if (i32.lt_s (memory.grow (local.get $pages)) (i32.const 0)) (then (unreachable)))
            (global.set $cap (i32.add (global.get $cap) (i32.shl (local.get $pages) (i32.const 14))))))
        (local.set $v (i32.add (i32.shl (local.get $v) (i32.const 2)) (i32.const 0xB60000)))
        (i32.store (local.get $v) (i32.add (i32.load (local.get $v)) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $count)))
    (global.set $others (i32.add (global.get $others) (global.get $no)))
    ;; The line's other ids beside its field: the caller adds them in the lines' order.
    (i32.store offset=0x21000c (local.get $r)
      (i32.or (i32.load offset=0x21000c (local.get $r)) (i32.shl (global.get $no) (i32.const 3))))
    (i32.const 1))
  ;; The counted lines' keys (field not 0) to the shared table, after the
  ;; window's scan, 16 at a time: first their slots are read (touch), so
  ;; the 16 cache misses overlap, then they are added. One key at a time,
  ;; each add waited on a miss of its own: its compare-and-swap waits for
  ;; every read before it, a touch ahead too.
  (func $shareKeys (param $n i32)
    (local $g i32)
    (local $i i32)
    (local $end i32)
    (local $r i32)
    (block $done
      (loop $group
        (br_if $done (i32.ge_u (local.get $g) (local.get $n)))
        (local.set $end (i32.add (local.get $g) (i32.const 16)))
        (if (i32.gt_u (local.get $end) (local.get $n)) (then (local.set $end (local.get $n))))
        (local.set $i (local.get $g))
        (loop $touch
          (local.set $r (i32.shl (local.get $i) (i32.const 6)))
          (if (i32.and (i32.load offset=0x21000c (local.get $r)) (i32.const 3))
            (then (call $key_touch (i32.load offset=0x210018 (local.get $r)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $touch (i32.lt_u (local.get $i) (local.get $end))))
        (local.set $i (local.get $g))
        (loop $add
          (local.set $r (i32.shl (local.get $i) (i32.const 6)))
          (if (i32.and (i32.load offset=0x21000c (local.get $r)) (i32.const 3))
            (then
              (if (call $shareKey (local.get $r))
                (then
                  (i32.store offset=0x21000c (local.get $r)
                    (i32.or (i32.load offset=0x21000c (local.get $r)) (i32.const 4)))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $add (i32.lt_u (local.get $i) (local.get $end))))
        (local.set $g (local.get $end))
        (br $group))))
  ;; The record's key to the shared table, 8 bytes a call: 1 when the table has it.
  (func $shareKey (param $r i32) (result i32)
    (local $p i32)
    (local $len i32)
    (local $i i32)
    (local.set $p (i32.load offset=0x210010 (local.get $r)))
    (local.set $len (i32.sub (i32.load offset=0x210014 (local.get $r)) (local.get $p)))
    (if (i32.eqz (call $key_begin (local.get $len))) (then (return (i32.const 0))))
    (block $words_done
      (loop $words
        (br_if $words_done (i32.ge_u (i32.shl (local.get $i) (i32.const 3)) (local.get $len)))
        (call $key_word (local.get $i) (i64.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $words)))
    (call $key_end (i32.load offset=0x210018 (local.get $r))))
  ;; How many id spans OTHERS holds (the last scan's); the counters COUNTS holds.
  (func (export "others") (result i32) (global.get $others))
  (func (export "counters") (result i32) (global.get $cap))
  (func (export "scan") (param $len i32) (param $atEnd i32) (param $maxRecs i32) (param $limit i32) (param $keys i32) (result i32)
    (local $p i32)
    (local $s i32)
    (local $q i32)
    (local $nl i32)
    (local $e i32)
    (local $n i32)
    (local $r i32)
    (global.set $limit (local.get $limit))
    (global.set $keys (local.get $keys))
    (global.set $others (i32.const 0))
    (block $lines_done
      (loop $lines
        (br_if $lines_done (i32.ge_u (local.get $p) (local.get $len)))
        (br_if $lines_done (i32.ge_u (local.get $n) (local.get $maxRecs)))
        (local.set $s (local.get $p))
        (local.set $r (i32.shl (local.get $n) (i32.const 6)))
        ;; A refused line's span is found from its start: its bytes before
        ;; the place the shape failed hold no LF, but a word compared there may.
        (local.set $q (call $line (local.get $s) (local.get $r)))
        (local.set $nl (if (result i32) (i32.lt_s (local.get $q) (i32.const 0)) (then (local.get $s)) (else (local.get $q))))
        (block $found
          (loop $byte
            (br_if $found (i32.ge_u (local.get $nl) (local.get $len)))
            (br_if $found (i32.eq (i32.load8_u (local.get $nl)) (i32.const 10)))
            (local.set $nl (i32.add (local.get $nl) (i32.const 1)))
            (br $byte)))
        ;; A last line without its LF may go on past the window.
        (br_if $lines_done (i32.and (i32.ge_u (local.get $nl) (local.get $len)) (i32.eqz (local.get $atEnd))))
        (local.set $e (local.get $nl))
        ;; Nested, not i32.and: both operands of that are read, and a blank first line's e - 1 is -1.
        (if (i32.gt_u (local.get $e) (local.get $s))
          (then
            (if (i32.eq (i32.load8_u (i32.sub (local.get $e) (i32.const 1))) (i32.const 13))
              (then (local.set $e (i32.sub (local.get $e) (i32.const 1)))))))
        ;; The shape must end where the line does; only then is it counted.
        (if (i32.ne (local.get $q) (local.get $e))
          (then (i32.store offset=0x21000c (local.get $r) (i32.const 0)))
          (else
            (if (i32.eqz (call $commit (local.get $r)))
              (then (i32.store offset=0x21000c (local.get $r) (i32.const 0))))))
        (i32.store offset=0x210000 (local.get $r) (local.get $s))
        (i32.store offset=0x210004 (local.get $r) (local.get $e))
        (local.set $p
          (if (result i32) (i32.lt_u (local.get $nl) (local.get $len))
            (then (i32.add (local.get $nl) (i32.const 1)))
            (else (local.get $len))))
        (i32.store offset=0x210008 (local.get $r) (local.get $p))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $lines)))
    (if (global.get $keys) (then (call $shareKeys (local.get $n))))
    (local.get $n)))
