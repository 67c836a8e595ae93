;; sort(n): the n doubles at KEYS (n <= 65,536) sorted ascending in place, as
;; Float64Array.prototype.sort orders finite numbers (-0 before +0): each
;; double's bits made an unsigned key that orders as the number does (the
;; sign bit set for positives, every bit flipped for negatives), then a
;; least-significant-digit radix sort a byte at a time, a byte skipped when
;; every key has the same one there (scores share their top bytes), then
;; the bits turned back.
;;
;; Why: the report's score batches (65,536 each, 7.5 M scores a GB) are
;; sorted before the t-digest takes them; the built-in sort was about 100 ns
;; a score, most of the digest worker's time.
;;
;; Layout (byte offsets; radix-sort.ts has the same constants):
;;   KEYS  0x000000  the doubles, then their keys (65,536 x 8 bytes)
;;   TMP   0x080000  the other buffer of each pass
;;   HIST  0x100000  8 histograms of 256 u32s, one per byte
(module
  (memory (export "memory") 18 18)
  (func (export "sort") (param $n i32)
    (local $i i32)
    (local $b i32)
    (local $at i32)
    (local $sum i32)
    (local $c i32)
    (local $src i32)
    (local $dst i32)
    (local $t i32)
    (local $shift i64)
    (local $k i64)
    (memory.fill (i32.const 0x100000) (i32.const 0) (i32.const 8192))
    ;; Keys and every byte's histogram in one pass.
    (block $keyed
      (loop $key
        (br_if $keyed (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $at (i32.shl (local.get $i) (i32.const 3)))
        (local.set $k (i64.load (local.get $at)))
        (local.set $k
          (if (result i64) (i64.lt_s (local.get $k) (i64.const 0))
            (then (i64.xor (local.get $k) (i64.const -1)))
            (else (i64.xor (local.get $k) (i64.const 0x8000000000000000)))))
        (i64.store (local.get $at) (local.get $k))
        (local.set $b (i32.const 0))
        (loop $byte
          (local.set $c
            (i32.add
              (i32.const 0x100000)
              (i32.add
                (i32.shl (local.get $b) (i32.const 10))
                (i32.shl
                  (i32.wrap_i64 (i64.and (i64.shr_u (local.get $k) (i64.extend_i32_u (i32.shl (local.get $b) (i32.const 3)))) (i64.const 255)))
                  (i32.const 2)))))
          (i32.store (local.get $c) (i32.add (i32.load (local.get $c)) (i32.const 1)))
          (local.set $b (i32.add (local.get $b) (i32.const 1)))
          (br_if $byte (i32.lt_u (local.get $b) (i32.const 8))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $key)))
    (local.set $src (i32.const 0))
    (local.set $dst (i32.const 0x80000))
    (local.set $b (i32.const 0))
    (block $passes_done
      (loop $pass
        (br_if $passes_done (i32.ge_u (local.get $b) (i32.const 8)))
        (local.set $shift (i64.extend_i32_u (i32.shl (local.get $b) (i32.const 3))))
        (local.set $at (i32.add (i32.const 0x100000) (i32.shl (local.get $b) (i32.const 10))))
        ;; Skipped when one digit holds every key (n = 0 too).
        (if (i32.and
              (i32.ne (local.get $n) (i32.const 0))
              (i32.ne
                (i32.load
                  (i32.add
                    (local.get $at)
                    (i32.shl
                      (i32.wrap_i64 (i64.and (i64.shr_u (i64.load (local.get $src)) (local.get $shift)) (i64.const 255)))
                      (i32.const 2))))
                (local.get $n)))
          (then
            ;; Counts to each digit's first place.
            (local.set $sum (i32.const 0))
            (local.set $i (i32.const 0))
            (loop $prefix
              (local.set $c (i32.load (i32.add (local.get $at) (i32.shl (local.get $i) (i32.const 2)))))
              (i32.store (i32.add (local.get $at) (i32.shl (local.get $i) (i32.const 2))) (local.get $sum))
              (local.set $sum (i32.add (local.get $sum) (local.get $c)))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $prefix (i32.lt_u (local.get $i) (i32.const 256))))
            (local.set $i (i32.const 0))
            (block $moved
              (loop $move
                (br_if $moved (i32.ge_u (local.get $i) (local.get $n)))
                (local.set $k (i64.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 3)))))
                (local.set $c
                  (i32.add
                    (local.get $at)
                    (i32.shl (i32.wrap_i64 (i64.and (i64.shr_u (local.get $k) (local.get $shift)) (i64.const 255))) (i32.const 2))))
                (local.set $t (i32.load (local.get $c)))
                (i32.store (local.get $c) (i32.add (local.get $t) (i32.const 1)))
                (i64.store (i32.add (local.get $dst) (i32.shl (local.get $t) (i32.const 3))) (local.get $k))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $move)))
            (local.set $t (local.get $src))
            (local.set $src (local.get $dst))
            (local.set $dst (local.get $t))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $pass)))
    ;; The bits turned back, into KEYS.
    (local.set $i (i32.const 0))
    (block $back_done
      (loop $back
        (br_if $back_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $k (i64.load (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 3)))))
        (i64.store
          (i32.shl (local.get $i) (i32.const 3))
          (if (result i64) (i64.lt_s (local.get $k) (i64.const 0))
            (then (i64.xor (local.get $k) (i64.const 0x8000000000000000)))
            (else (i64.xor (local.get $k) (i64.const -1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $back)))))
