;; keys(len, atEnd, top, maxRecs): key-scan.ts's KeyScan.scan over every
;; line of a window IN[0, len) of a piece, with what `export --since` needs
;; of an accepted line: its key's span and hash (byteset.ts hashBytes) and
;; the digest of its first `top` ids (0: all; core/delta.ts ListDigest), so
;; that JavaScript touches a line once. A line the scan refuses is still a
;; record, with its span: the caller parses it in JavaScript. Returns the
;; number of records; stops early at maxRecs, or before a last line that
;; has no LF in the window when atEnd is 0 (the caller moves the window).
;; The caller puts a 0 byte at IN[len]: no rule of the shape takes it, so
;; the scan never passes the window's end.
;;
;; Why WebAssembly: in JavaScript the scan and the digest were two thirds
;; of the keys' pass, about 20 instructions a byte.
;;
;; Layout (byte offsets; key-scan.ts has the same constants):
;;   IN    0x000000  the window, up to CAP = 0x200000 bytes, then its 0 byte
;;   RECS  0x210000  64 bytes a line (MAX_RECS = 0x4000), i32s: start, end
;;                   (CR of CRLF left out), next line's start, key start, key
;;                   end, field (0 refused, 1 userId, 2 itemId), the
;;                   digest's two words, the key's hash, 1 when the
;;                   scores were only counted (keys()'s $lazy)
;;   COUNTS 0x310000 group's records per partition (256 i32s)
;;   ENDS   0x310400 group's end of each partition's records in OUT (256 i32s)
;;   AT     0x310800 group's write place per partition (256 i32s)
;;   OUT    0x311000 group's partition lines: the window's keys (at most
;;                   CAP bytes) and 21 bytes more a record, up to 0x565000
(module
  (memory (export "memory") 88 88)
  (func $fmix (param $h i32) (result i32)
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
    (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
  ;; The commas $checked found.
  (global $commas (mut i32) (i32.const 0))
  ;; A score list's run from p, just past `[`, of number bytes (digits, . e
  ;; E + -) and commas, checked 32 bytes at a time by masks instead of read
  ;; number by number: where it stops (the caller wants `]` there), or -1
  ;; unless every score is `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`,
  ;; JSON's number (any other byte stops the run: the grammar decides). The
  ;; commas to $commas. Bit i of a mask is byte i of the block; a rule on
  ;; the byte before takes bit 0's from the last block (carry). Blocks of
  ;; 32, not 16: the rules are scalar work a block, most of this function's.
  (func $checked (param $p i32) (result i32)
    (local $v0 v128)
    (local $v1 v128)
    (local $d i64)
    (local $dot i64)
    (local $com i64)
    (local $x i64)
    (local $minus i64)
    (local $sign i64)
    (local $m i64)
    (local $stop i64)
    (local $valid i64)
    (local $t i64)
    (local $m0 i64)
    (local $is i64)
    (local $xp i64)
    (local $es i64)
    (local $zs i64)
    (local $carry i64)
    (local $dend i64)
    (local $eend i64)
    (local $dr i64)
    (local $er i64)
    (local $n i32)
    ;; carry: bit 0 a token starts at the block's first byte; the last
    ;; block's last byte was 1 a dot, 2 a token's leading 0, 3 an e, 4 an
    ;; exponent's sign, 5 a token's leading minus.
    (local.set $carry (i64.const 1))
    (loop $chunk
      (local.set $v0 (v128.load (local.get $p)))
      (local.set $v1 (v128.load offset=16 (local.get $p)))
      (local.set $d (i64.extend_i32_u (i32.or (i8x16.bitmask (i8x16.lt_u (i8x16.sub (local.get $v0) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48)) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))) (i32.shl (i8x16.bitmask (i8x16.lt_u (i8x16.sub (local.get $v1) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48)) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))) (i32.const 16)))))
      (local.set $dot (i64.extend_i32_u (i32.or (i8x16.bitmask (i8x16.eq (local.get $v0) (v128.const i8x16 46 46 46 46 46 46 46 46 46 46 46 46 46 46 46 46))) (i32.shl (i8x16.bitmask (i8x16.eq (local.get $v1) (v128.const i8x16 46 46 46 46 46 46 46 46 46 46 46 46 46 46 46 46))) (i32.const 16)))))
      (local.set $com (i64.extend_i32_u (i32.or (i8x16.bitmask (i8x16.eq (local.get $v0) (v128.const i8x16 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44))) (i32.shl (i8x16.bitmask (i8x16.eq (local.get $v1) (v128.const i8x16 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44))) (i32.const 16)))))
      (local.set $x (i64.extend_i32_u (i32.or (i8x16.bitmask (i8x16.eq (v128.or (local.get $v0) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32)) (v128.const i8x16 101 101 101 101 101 101 101 101 101 101 101 101 101 101 101 101))) (i32.shl (i8x16.bitmask (i8x16.eq (v128.or (local.get $v1) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32)) (v128.const i8x16 101 101 101 101 101 101 101 101 101 101 101 101 101 101 101 101))) (i32.const 16)))))
      (local.set $minus (i64.extend_i32_u (i32.or (i8x16.bitmask (i8x16.eq (local.get $v0) (v128.const i8x16 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45))) (i32.shl (i8x16.bitmask (i8x16.eq (local.get $v1) (v128.const i8x16 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45 45))) (i32.const 16)))))
      (local.set $sign (i64.or (local.get $minus) (i64.extend_i32_u (i32.or (i8x16.bitmask (i8x16.eq (local.get $v0) (v128.const i8x16 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43))) (i32.shl (i8x16.bitmask (i8x16.eq (local.get $v1) (v128.const i8x16 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43 43))) (i32.const 16))))))
      (local.set $m (i64.xor (i64.or (i64.or (i64.or (i64.or (local.get $d) (local.get $dot)) (local.get $com)) (local.get $x)) (local.get $sign)) (i64.const 0xffffffff)))
      ;; The first byte that is no number byte or comma (32: none in the block).
      (local.set $stop (i64.ctz (i64.or (local.get $m) (i64.const 0x100000000))))
      (local.set $valid (i64.sub (i64.shl (i64.const 1) (local.get $stop)) (i64.const 1)))
      ;; Token starts; a leading minus; where the integer part starts; bytes after an e; exponent signs; leading zeros.
      (local.set $t (i64.or (i64.shl (local.get $com) (i64.const 1)) (i64.and (local.get $carry) (i64.const 1))))
      (local.set $m0 (i64.and (local.get $t) (local.get $minus)))
      (local.set $is (i64.or (i64.or (i64.and (local.get $t) (i64.xor (local.get $minus) (i64.const -1))) (i64.shl (local.get $m0) (i64.const 1))) (i64.and (i64.shr_u (local.get $carry) (i64.const 5)) (i64.const 1))))
      (local.set $xp (i64.or (i64.shl (local.get $x) (i64.const 1)) (i64.and (i64.shr_u (local.get $carry) (i64.const 3)) (i64.const 1))))
      (local.set $es (i64.and (local.get $sign) (local.get $xp)))
      (local.set $zs (i64.and (local.get $is) (i64.extend_i32_u (i32.or (i8x16.bitmask (i8x16.eq (local.get $v0) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))) (i32.shl (i8x16.bitmask (i8x16.eq (local.get $v1) (v128.const i8x16 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48 48))) (i32.const 16))))))
      ;; Rules on a byte after another, the stop's byte included (bit 32 is the next block's).
      (if (i64.ne
            (i64.and
              (i64.and (i64.or (local.get $valid) (i64.shl (i64.const 1) (local.get $stop))) (i64.const 0xffffffff))
            (i64.or (i64.or (i64.or (i64.or ;; an integer part starts with a digit (no empty score, none starting . e + or -- )
            (i64.and (local.get $is) (i64.xor (local.get $d) (i64.const -1))) 
            ;; a digit after a dot
            (i64.and (i64.or (i64.shl (local.get $dot) (i64.const 1)) (i64.and (i64.shr_u (local.get $carry) (i64.const 1)) (i64.const 1))) (i64.xor (local.get $d) (i64.const -1)))) 
            ;; a digit or a sign after an e
            (i64.and (local.get $xp) (i64.xor (i64.or (local.get $d) (local.get $sign)) (i64.const -1)))) 
            ;; a digit after an exponent's sign
            (i64.and (i64.or (i64.shl (local.get $es) (i64.const 1)) (i64.and (i64.shr_u (local.get $carry) (i64.const 4)) (i64.const 1))) (i64.xor (local.get $d) (i64.const -1)))) 
            ;; no digit after a leading 0
            (i64.and (i64.or (i64.shl (local.get $zs) (i64.const 1)) (i64.and (i64.shr_u (local.get $carry) (i64.const 2)) (i64.const 1))) (local.get $d))))
            (i64.const 0))
        (then (return (i32.const -1))))
      ;; A sign only as a score's first byte (a minus) or an exponent's.
      (if (i64.ne (i64.and (local.get $valid) (i64.and (local.get $sign) (i64.xor (i64.or (local.get $m0) (local.get $xp)) (i64.const -1)))) (i64.const 0))
        (then (return (i32.const -1))))
      ;; In each score at most one dot and one e, the dot first: the rules
      ;; above put a digit after each dot and each exponent's e or sign, so
      ;; a score breaks this only where the digits after a dot end at a dot,
      ;; or those after an exponent at a dot or an e. Adding a run's first
      ;; bit to the digits carries it to the run's end, every run at once (a
      ;; loop over the dots and e's, with a state, cost more than the
      ;; masks); bit 32 is a run going on into the next block ($dr, $er).
      (local.set $dend (i64.and (i64.add (i64.add (local.get $d) (local.get $dr)) (i64.and (i64.or (i64.shl (local.get $dot) (i64.const 1)) (i64.and (i64.shr_u (local.get $carry) (i64.const 1)) (i64.const 1))) (i64.const 0xffffffff))) (i64.xor (local.get $d) (i64.const -1))))
      (local.set $eend (i64.and (i64.add (i64.add (local.get $d) (local.get $er)) (i64.and (i64.or (i64.or (i64.and (local.get $xp) (local.get $d)) (i64.shl (local.get $es) (i64.const 1))) (i64.and (i64.shr_u (local.get $carry) (i64.const 4)) (i64.const 1))) (i64.const 0xffffffff))) (i64.xor (local.get $d) (i64.const -1))))
      (if (i64.ne
            (i64.and (local.get $valid)
              (i64.or
                (i64.and (local.get $dend) (local.get $dot))
                (i64.and (local.get $eend) (i64.or (local.get $dot) (local.get $x)))))
            (i64.const 0))
        (then (return (i32.const -1))))
      (local.set $dr (i64.shr_u (local.get $dend) (i64.const 32)))
      (local.set $er (i64.shr_u (local.get $eend) (i64.const 32)))
      (local.set $n (i32.add (local.get $n) (i32.wrap_i64 (i64.popcnt (i64.and (local.get $com) (local.get $valid))))))
      (if (i64.lt_u (local.get $stop) (i64.const 32))
        (then
          (global.set $commas (local.get $n))
          (return (i32.add (local.get $p) (i32.wrap_i64 (local.get $stop))))))
      (local.set $carry (i64.or (i64.or (i64.or (i64.or (i64.or (i64.and (i64.shr_u (local.get $com) (i64.const 31)) (i64.const 1)) (i64.and (i64.shr_u (local.get $dot) (i64.const 30)) (i64.const 2))) (i64.and (i64.shr_u (local.get $zs) (i64.const 29)) (i64.const 4))) (i64.and (i64.shr_u (local.get $x) (i64.const 28)) (i64.const 8))) (i64.and (i64.shr_u (local.get $es) (i64.const 27)) (i64.const 16))) (i64.and (i64.shr_u (local.get $m0) (i64.const 26)) (i64.const 32))))
      (local.set $p (i32.add (local.get $p) (i32.const 32)))
      (br $chunk))
    (i32.const -1))
  ;; The line at s in the shape: the place after its final `}`, or -1; the
  ;; key's span, hash and field and the digest go to the record at r. The
  ;; string and digit runs are found 16 bytes at a time (a string byte of
  ;; the shape is no quote, backslash or control character; commas and
  ;; bytes past 0x7f are taken, as PLAIN and COMMA are in key-scan.ts), and
  ;; nothing is a call: V8 inlines no WebAssembly call, and a call per token
  ;; cost more than the token.
  (func $line (param $s i32) (param $top i32) (param $r i32) (param $lazy i32) (result i32)
    (local $p i32)
    (local $q i32)
    (local $c i32)
    (local $h i32)
    (local $a i32)
    (local $b i32)
    (local $m i32)
    (local $ids i32)
    (local $mixed i32)
    (local $scores i32)
    (local $w i64)
    (local $v v128)
    (i32.store offset=0x210024 (local.get $r) (i32.const 0))
    ;; {"input":{"
    (if (i64.ne (i64.load (local.get $s)) (i64.const 0x227475706e69227b)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load offset=7 (local.get $s)) (i32.const 0x227b3a22)) (then (return (i32.const -1))))
    ;; userId":" or itemId":"
    (local.set $w (i64.load offset=11 (local.get $s)))
    (if (i64.eq (local.get $w) (i64.const 0x3a22644972657375))
      (then (i32.store offset=0x210014 (local.get $r) (i32.const 1)))
      (else
        (if (i64.ne (local.get $w) (i64.const 0x3a2264496d657469)) (then (return (i32.const -1))))
        (i32.store offset=0x210014 (local.get $r) (i32.const 2))))
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
    (i32.store offset=0x21000c (local.get $r) (local.get $p))
    (i32.store offset=0x210010 (local.get $r) (local.get $q))
    (local.set $h (i32.const 0x811c9dc5))
    (block $hashed
      (loop $byte
        (br_if $hashed (i32.ge_u (local.get $p) (local.get $q)))
        (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $p))) (i32.const 0x01000193)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $byte)))
    (i32.store offset=0x210020 (local.get $r) (call $fmix (local.get $h)))
    ;; },"output":{"recommendedItems":[
    (if (i64.ne (i64.load offset=1 (local.get $q)) (i64.const 0x757074756f222c7d)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=9 (local.get $q)) (i64.const 0x636572227b3a2274)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=17 (local.get $q)) (i64.const 0x6465646e656d6d6f)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=25 (local.get $q)) (i64.const 0x5b3a22736d657449)) (then (return (i32.const -1))))
    (local.set $p (i32.add (local.get $q) (i32.const 33)))
    ;; The ids, the first `top` mixed into the digest as ListDigest.id does:
    ;; words of four bytes, then one of the last 0 to 3 with their count on top.
    (local.set $a (i32.const 0x811c9dc5))
    (local.set $b (i32.const 0x9747b28c))
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
          (if (i32.or (i32.eqz (local.get $top)) (i32.le_u (local.get $ids) (local.get $top)))
            (then
              (block $words_done
                (loop $word
                  (br_if $words_done (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $q)))
                  (local.set $c (i32.load (local.get $p)))
                  (local.set $c
                    (i32.mul
                      (i32.rotl (i32.mul (local.get $c) (i32.const 0xcc9e2d51)) (i32.const 15))
                      (i32.const 0x1b873593)))
                  (local.set $a (i32.mul (i32.xor (local.get $a) (local.get $c)) (i32.const 0x01000193)))
                  (local.set $b
                    (i32.add
                      (i32.mul (i32.rotl (i32.xor (local.get $b) (local.get $c)) (i32.const 13)) (i32.const 5))
                      (i32.const 0xe6546b64)))
                  (local.set $p (i32.add (local.get $p) (i32.const 4)))
                  (br $word)))
              (local.set $h (i32.sub (local.get $q) (local.get $p)))
              (local.set $c
                (i32.or
                  (i32.shl (local.get $h) (i32.const 24))
                  (i32.and
                    (i32.load (local.get $p))
                    (i32.sub (i32.shl (i32.const 1) (i32.shl (local.get $h) (i32.const 3))) (i32.const 1)))))
              (local.set $c
                (i32.mul
                  (i32.rotl (i32.mul (local.get $c) (i32.const 0xcc9e2d51)) (i32.const 15))
                  (i32.const 0x1b873593)))
              (local.set $a (i32.mul (i32.xor (local.get $a) (local.get $c)) (i32.const 0x01000193)))
              (local.set $b
                (i32.add
                  (i32.mul (i32.rotl (i32.xor (local.get $b) (local.get $c)) (i32.const 13)) (i32.const 5))
                  (i32.const 0xe6546b64)))
              (local.set $mixed (i32.add (local.get $mixed) (i32.const 1)))))
          (local.set $c (i32.load8_u offset=1 (local.get $q)))
          (local.set $p (i32.add (local.get $q) (i32.const 2)))
          (br_if $id (i32.eq (local.get $c) (i32.const 0x2c)))
          (if (i32.ne (local.get $c) (i32.const 0x5d)) (then (return (i32.const -1)))))))
    (i32.store offset=0x210018 (local.get $r) (call $fmix (i32.xor (local.get $a) (local.get $mixed))))
    (i32.store offset=0x21001c (local.get $r) (call $fmix (local.get $b)))
    ;; ,"scores":[ JSON numbers (the grammar's every rule) ], no more of them than ids.
    (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x2c))
      (then
        (if (i64.ne (i64.load (local.get $p)) (i64.const 0x7365726f6373222c)) (then (return (i32.const -1))))
        (if (i32.ne (i32.load offset=7 (local.get $p)) (i32.const 0x5b3a2273)) (then (return (i32.const -1))))
        (local.set $p (i32.add (local.get $p) (i32.const 11)))
        (block $scored
        ;; $lazy: a run of number bytes (digits, + - . / e E) and commas up
        ;; to `]`, counted but not parsed (the record says so); any other
        ;; byte, or no score, and the grammar below reads them. Every score
        ;; text the grammar refuses in such a run is no JSON number either.
        (block $strict
          ;; $lazy 2: the run checked by $checked, which takes only score
          ;; lists the grammar takes (any other: the grammar reads them).
          (if (i32.eq (local.get $lazy) (i32.const 2))
            (then
              (local.set $q (call $checked (local.get $p)))
              (br_if $strict (i32.lt_s (local.get $q) (i32.const 0)))
              (br_if $strict (i32.ne (i32.load8_u (local.get $q)) (i32.const 0x5d)))
              (if (i32.ge_u (global.get $commas) (local.get $ids)) (then (return (i32.const -1))))
              (local.set $p (i32.add (local.get $q) (i32.const 1)))
              (br $scored)))
          (br_if $strict (i32.eqz (local.get $lazy)))
          (local.set $q (local.get $p))
          (local.set $h (i32.const 0))
          (block $run_done
            (loop $run
              (local.set $v (v128.load (local.get $q)))
              (local.set $m
                (i8x16.bitmask
                  (v128.not
                    (v128.or
                      (i8x16.le_u
                        (i8x16.sub (local.get $v) (v128.const i8x16 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b 0x2b))
                        (v128.const i8x16 14 14 14 14 14 14 14 14 14 14 14 14 14 14 14 14))
                      (i8x16.eq
                        (v128.or (local.get $v) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                        (v128.const i8x16 0x65 0x65 0x65 0x65 0x65 0x65 0x65 0x65 0x65 0x65 0x65 0x65 0x65 0x65 0x65 0x65))))))
              (local.set $c (i8x16.bitmask (i8x16.eq (local.get $v) (v128.const i8x16 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44))))
              (br_if $run_done (local.get $m))
              (local.set $h (i32.add (local.get $h) (i32.popcnt (local.get $c))))
              (local.set $q (i32.add (local.get $q) (i32.const 16)))
              (br $run)))
          ;; The commas before the stop, in its block.
          (local.set $h
            (i32.add (local.get $h)
              (i32.popcnt (i32.and (local.get $c) (i32.sub (i32.and (local.get $m) (i32.sub (i32.const 0) (local.get $m))) (i32.const 1))))))
          (local.set $q (i32.add (local.get $q) (i32.ctz (local.get $m))))
          (br_if $strict (i32.eq (local.get $q) (local.get $p)))
          (br_if $strict (i32.ne (i32.load8_u (local.get $q)) (i32.const 0x5d)))
          (if (i32.ge_u (local.get $h) (local.get $ids)) (then (return (i32.const -1))))
          (i32.store offset=0x210024 (local.get $r) (i32.const 1))
          (local.set $p (i32.add (local.get $q) (i32.const 1)))
          (br $scored))
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x5d))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (loop $score
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
              (local.set $scores (i32.add (local.get $scores) (i32.const 1)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br_if $score (i32.eq (local.get $c) (i32.const 0x2c)))
              (if (i32.ne (local.get $c) (i32.const 0x5d)) (then (return (i32.const -1)))))))
        (if (i32.gt_u (local.get $scores) (local.get $ids)) (then (return (i32.const -1)))))))
    ;; },"error":null}
    (if (i64.ne (i64.load (local.get $p)) (i64.const 0x726f727265222c7d)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=7 (local.get $p)) (i64.const 0x7d6c6c756e3a2272)) (then (return (i32.const -1))))
    (i32.add (local.get $p) (i32.const 15)))
  (func (export "keys") (param $len i32) (param $atEnd i32) (param $top i32) (param $maxRecs i32) (param $lazy i32) (result i32)
    (local $p i32)
    (local $s i32)
    (local $q i32)
    (local $nl i32)
    (local $e i32)
    (local $n i32)
    (local $r i32)
    (block $lines_done
      (loop $lines
        (br_if $lines_done (i32.ge_u (local.get $p) (local.get $len)))
        (br_if $lines_done (i32.ge_u (local.get $n) (local.get $maxRecs)))
        (local.set $s (local.get $p))
        (local.set $r (i32.shl (local.get $n) (i32.const 6)))
        ;; A refused line's span is found from its start: its bytes before
        ;; the place the shape failed hold no LF, but a word compared there may.
        (local.set $q (call $line (local.get $s) (local.get $top) (local.get $r) (local.get $lazy)))
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
        ;; The shape must end where the line does.
        (if (i32.ne (local.get $q) (local.get $e)) (then (i32.store offset=0x210014 (local.get $r) (i32.const 0))))
        (i32.store offset=0x210000 (local.get $r) (local.get $s))
        (i32.store offset=0x210004 (local.get $r) (local.get $e))
        (local.set $p
          (if (result i32) (i32.lt_u (local.get $nl) (local.get $len))
            (then (i32.add (local.get $nl) (i32.const 1)))
            (else (local.get $len))))
        (i32.store offset=0x210008 (local.get $r) (local.get $p))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $lines)))
    (local.get $n))

  ;; strict(i, top): whether record i of the last keys() call, taken with
  ;; its scores unread ($lazy), is taken by the whole grammar too (its
  ;; window unchanged since): 1 or 0.
  (func (export "strict") (param $i i32) (param $top i32) (result i32)
    (local $r i32)
    (local.set $r (i32.shl (local.get $i) (i32.const 6)))
    (i32.eq
      (call $line (i32.load offset=0x210000 (local.get $r)) (local.get $top) (local.get $r) (i32.const 0))
      (i32.load offset=0x210004 (local.get $r))))

  ;; A 32-bit word as 5 bytes of 7 bits each, least significant first, the
  ;; high bit set in each: no TAB or LF among them (spill.ts cuts on those).
  (func $seven5 (param $o i32) (param $v i32)
    (i32.store
      (local.get $o)
      (i32.or
        (i32.or
          (i32.or (i32.and (local.get $v) (i32.const 0x7f))
                  (i32.shl (i32.and (i32.shr_u (local.get $v) (i32.const 7)) (i32.const 0x7f)) (i32.const 8)))
          (i32.or (i32.shl (i32.and (i32.shr_u (local.get $v) (i32.const 14)) (i32.const 0x7f)) (i32.const 16))
                  (i32.shl (i32.and (i32.shr_u (local.get $v) (i32.const 21)) (i32.const 0x7f)) (i32.const 24))))
        (i32.const 0x80808080)))
    (i32.store8 offset=4 (local.get $o) (i32.or (i32.shr_u (local.get $v) (i32.const 28)) (i32.const 0x80))))
  ;; group(from, to, type, n0): records [from, to) of the last keys() call,
  ;; each an accepted line, as partition lines `key TAB type a b n LF`
  ;; (keys.ts DeltaKeys: a and b the digest's words as $seven5 writes them,
  ;; n = n0 + the record's place in the run as 8 bytes of 7 bits, most
  ;; significant first), grouped by partition (the key hash's top byte:
  ;; spill.ts partitionOf over 256), each partition's in record order:
  ;; partition i's lines are OUT[ENDS[i - 1], ENDS[i]), COUNTS[i] of them
  ;; (PartitionSet.writeGrouped's input). Returns the bytes written. One
  ;; copy a partition in JavaScript instead of some 30 byte stores a line.
  (func (export "group") (param $from i32) (param $to i32) (param $type i32) (param $n0 f64) (result i32)
    (local $i i32)
    (local $r i32)
    (local $part i32)
    (local $ks i32)
    (local $ke i32)
    (local $o i32)
    (local $at i32)
    (local $n i64)
    (memory.fill (i32.const 0x310000) (i32.const 0) (i32.const 0x800))
    ;; Per partition: records, then bytes (in ENDS for now).
    (local.set $i (local.get $from))
    (block $counted
      (loop $count
        (br_if $counted (i32.ge_u (local.get $i) (local.get $to)))
        (local.set $r (i32.shl (local.get $i) (i32.const 6)))
        (local.set $part (i32.shl (i32.shr_u (i32.load offset=0x210020 (local.get $r)) (i32.const 24)) (i32.const 2)))
        (i32.store offset=0x310000 (local.get $part) (i32.add (i32.load offset=0x310000 (local.get $part)) (i32.const 1)))
        (i32.store offset=0x310400 (local.get $part)
          (i32.add
            (i32.load offset=0x310400 (local.get $part))
            (i32.add
              (i32.sub (i32.load offset=0x210010 (local.get $r)) (i32.load offset=0x21000c (local.get $r)))
              (i32.const 21))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $count)))
    ;; Sizes to places: AT[i] the start of partition i's lines, ENDS[i] their end.
    (local.set $part (i32.const 0))
    (block $summed
      (loop $sum
        (br_if $summed (i32.ge_u (local.get $part) (i32.const 0x400)))
        (i32.store offset=0x310800 (local.get $part) (local.get $at))
        (local.set $at (i32.add (local.get $at) (i32.load offset=0x310400 (local.get $part))))
        (i32.store offset=0x310400 (local.get $part) (local.get $at))
        (local.set $part (i32.add (local.get $part) (i32.const 4)))
        (br $sum)))
    (local.set $n (i64.trunc_f64_u (local.get $n0)))
    (local.set $i (local.get $from))
    (block $placed
      (loop $place
        (br_if $placed (i32.ge_u (local.get $i) (local.get $to)))
        (local.set $r (i32.shl (local.get $i) (i32.const 6)))
        (local.set $part (i32.shl (i32.shr_u (i32.load offset=0x210020 (local.get $r)) (i32.const 24)) (i32.const 2)))
        (local.set $o (i32.add (i32.load offset=0x310800 (local.get $part)) (i32.const 0x311000)))
        (local.set $ks (i32.load offset=0x21000c (local.get $r)))
        (local.set $ke (i32.load offset=0x210010 (local.get $r)))
        ;; The key 8 bytes at a time: up to 7 bytes past it, which the TAB and payload then cover.
        (block $copied
          (loop $copy
            (br_if $copied (i32.ge_u (local.get $ks) (local.get $ke)))
            (i64.store (local.get $o) (i64.load (local.get $ks)))
            (local.set $ks (i32.add (local.get $ks) (i32.const 8)))
            (local.set $o (i32.add (local.get $o) (i32.const 8)))
            (br $copy)))
        (local.set $o (i32.sub (local.get $o) (i32.sub (local.get $ks) (local.get $ke))))
        (i32.store8 (local.get $o) (i32.const 9))
        (i32.store8 offset=1 (local.get $o) (local.get $type))
        (call $seven5 (i32.add (local.get $o) (i32.const 2)) (i32.load offset=0x210018 (local.get $r)))
        (call $seven5 (i32.add (local.get $o) (i32.const 7)) (i32.load offset=0x21001c (local.get $r)))
        ;; n's 8 groups of 7 bits, most significant first, in one store.
        (i64.store offset=12 (local.get $o)
          (i64.or
            (i64.or
              (i64.or
                (i64.and (i64.shr_u (local.get $n) (i64.const 49)) (i64.const 0x7f))
                (i64.shl (i64.and (i64.shr_u (local.get $n) (i64.const 42)) (i64.const 0x7f)) (i64.const 8)))
              (i64.or
                (i64.shl (i64.and (i64.shr_u (local.get $n) (i64.const 35)) (i64.const 0x7f)) (i64.const 16))
                (i64.shl (i64.and (i64.shr_u (local.get $n) (i64.const 28)) (i64.const 0x7f)) (i64.const 24))))
            (i64.or
              (i64.or
                (i64.shl (i64.and (i64.shr_u (local.get $n) (i64.const 21)) (i64.const 0x7f)) (i64.const 32))
                (i64.shl (i64.and (i64.shr_u (local.get $n) (i64.const 14)) (i64.const 0x7f)) (i64.const 40)))
              (i64.or
                (i64.shl (i64.and (i64.shr_u (local.get $n) (i64.const 7)) (i64.const 0x7f)) (i64.const 48))
                (i64.or
                  (i64.shl (i64.and (local.get $n) (i64.const 0x7f)) (i64.const 56))
                  (i64.const 0x8080808080808080))))))
        (i32.store8 offset=20 (local.get $o) (i32.const 10))
        (i32.store offset=0x310800 (local.get $part) (i32.sub (i32.add (local.get $o) (i32.const 21)) (i32.const 0x311000)))
        (local.set $n (i64.add (local.get $n) (i64.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $place)))
    (local.get $at)))
