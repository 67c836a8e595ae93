;; count(p, len): the number of LF bytes in memory[p, p + len) when every
;; line there is "regular" (no CR anywhere, no LF followed by LF, CR, space
;; or tab), else -1. The caller checks the first and last bytes.
;;
;; 16 bytes a step with SIMD: a JavaScript loop four bytes at a time ran at
;; about 1 GB/s, the slowest part of size-mode sharding. Assembled by
;; `npm run wasm` (wabt) into linecount-wasm.ts; a test checks that the two agree.
(module
  ;; 5 pages: a 256 KiB piece plus room for the 1-byte look-ahead.
  (memory (export "memory") 5 5)
  (func (export "count") (param $p i32) (param $len i32) (result i32)
    (local $end i32)
    (local $n i32)
    (local $k i32)
    (local $c i32)
    (local $d i32)
    (local $acc v128)
    (local $bad v128)
    (local $v v128)
    (local $w v128)
    (local $lf v128)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (block $blocks_done
      (loop $round
        ;; Byte lanes count LFs: 255 steps at most before they are summed.
        (local.set $k (i32.const 255))
        (local.set $acc (v128.const i64x2 0 0))
        (block $steps_done
          (loop $step
            ;; $w, the next byte of each lane, reads up to p + 17.
            (br_if $steps_done (i32.gt_u (i32.add (local.get $p) (i32.const 17)) (local.get $end)))
            (br_if $steps_done (i32.eqz (local.get $k)))
            (local.set $v (v128.load (local.get $p)))
            (local.set $w (v128.load offset=1 (local.get $p)))
            (local.set $lf (i8x16.eq (local.get $v) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10)))
            ;; An LF lane is all ones (-1): subtracting it adds one.
            (local.set $acc (i8x16.sub (local.get $acc) (local.get $lf)))
            (local.set $bad
              (v128.or
                (local.get $bad)
                (v128.or
                  (i8x16.eq (local.get $v) (v128.const i8x16 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13))
                  (v128.and
                    (local.get $lf)
                    (v128.or
                      (v128.or
                        (i8x16.eq (local.get $w) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))
                        (i8x16.eq (local.get $w) (v128.const i8x16 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13 13)))
                      (v128.or
                        (i8x16.eq (local.get $w) (v128.const i8x16 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32 32))
                        (i8x16.eq (local.get $w) (v128.const i8x16 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9))))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br $step)))
        (local.set $acc (i32x4.extadd_pairwise_i16x8_u (i16x8.extadd_pairwise_i8x16_u (local.get $acc))))
        (local.set $n
          (i32.add
            (local.get $n)
            (i32.add
              (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
              (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc))))))
        ;; Stopped by the step count, not the end: another round.
        (br_if $round (i32.eqz (local.get $k)))))
    (if (v128.any_true (local.get $bad)) (then (return (i32.const -1))))
    ;; The last 16 bytes or fewer, one at a time.
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $c (i32.load8_u (local.get $p)))
        (if (i32.eq (local.get $c) (i32.const 13)) (then (return (i32.const -1))))
        (if (i32.eq (local.get $c) (i32.const 10))
          (then
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (if (i32.lt_u (i32.add (local.get $p) (i32.const 1)) (local.get $end))
              (then
                (local.set $d (i32.load8_u offset=1 (local.get $p)))
                (if
                  (i32.or
                    (i32.or (i32.eq (local.get $d) (i32.const 10)) (i32.eq (local.get $d) (i32.const 13)))
                    (i32.or (i32.eq (local.get $d) (i32.const 32)) (i32.eq (local.get $d) (i32.const 9))))
                  (then (return (i32.const -1))))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $tail)))
    (local.get $n)))
