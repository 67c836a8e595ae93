;; The report's shared keys table (stages/report/shared-keys.ts SharedKeys)
;; added to from WebAssembly: report-scan.wat calls begin, word and end for
;; each line it tallies, so a lane's usual lines reach the table with no
;; JavaScript per key. The same table, the same rules as SharedKeys.add
;; (its slots, tags, arena runs, batched counts, seal), operation for
;; operation where a thread could tell: the probe's first slot is computed
;; in doubles as the JavaScript does, or a key added here would be looked
;; for in the wrong place there. One instance per thread: its run of the
;; arena and its uncounted keys are its own (globals), the memory shared.
;;
;; Why: on 1 GB the JavaScript add was about a fifth of a lane's time,
;; most of it a cache miss on a random slot that the compare-and-swap waits
;; for. Here the scan reads a group's slots first (touch) so their misses
;; overlap, and there is no JavaScript per key.
;;
;; The key's bytes are copied into this thread's run of the arena first
;; (begin, then word per 8 bytes; a word may write up to 7 bytes past the
;; key, inside the run, which begin reserves with that slack), then end
;; probes, compares against them and publishes them with a swap. A key the
;; table cannot take (sealed, full, longer than 254 bytes) gets 0 from
;; begin or end: the caller adds it in JavaScript (the lane's own table).
;;
;; Layout (byte offsets; shared-keys.ts has the same words):
;;   0   header, i32s: 0 arena bytes taken, 1 keys counted, 2 their bytes,
;;       3 sealed, 4 slots, 5 arena size, 6 keys at most, 7 bits of an
;;       offset, 8 the offset's mask, 9 the tag's mask
;;   64  the slots (i32: tag bits | arena offset + 1; 0 empty)
;;   64 + 4 x slots  the arena: each key a length byte, then its bytes
(module
  (import "keys" "memory" (memory 1 65536 shared))
  (global $size (mut i32) (i32.const 0))
  (global $arena (mut i32) (i32.const 0))
  (global $arenaLen (mut i32) (i32.const 0))
  (global $maxKeys (mut i32) (i32.const 0))
  (global $offBits (mut i32) (i32.const 0))
  (global $offMask (mut i32) (i32.const 0))
  (global $tagMask (mut i32) (i32.const 0))
  (global $batch (mut i32) (i32.const 0))
  ;; This thread's run of the arena [at, end) (offsets in the arena), its keys and bytes not yet counted.
  (global $at (mut i32) (i32.const 0))
  (global $end (mut i32) (i32.const 0))
  (global $pending (mut i32) (i32.const 0))
  (global $pendingBytes (mut i32) (i32.const 0))
  (global $wasSealed (mut i32) (i32.const 0))
  ;; The key being added: its length (its bytes at arena + at + 1).
  (global $len (mut i32) (i32.const 0))
  ;; What touch read, kept so the read is not dropped.
  (global $touched (mut i32) (i32.const 0))
  (func (export "init")
    (local $b i32)
    (global.set $size (i32.load offset=16 (i32.const 0)))
    (global.set $arena (i32.add (i32.const 64) (i32.shl (global.get $size) (i32.const 2))))
    (global.set $arenaLen (i32.load offset=20 (i32.const 0)))
    (global.set $maxKeys (i32.load offset=24 (i32.const 0)))
    (global.set $offBits (i32.load offset=28 (i32.const 0)))
    (global.set $offMask (i32.load offset=32 (i32.const 0)))
    (global.set $tagMask (i32.load offset=36 (i32.const 0)))
    ;; SharedKeys.batch: max(1, min(256, (slots - keys at most) >> 6)).
    (local.set $b (i32.shr_s (i32.sub (global.get $size) (global.get $maxKeys)) (i32.const 6)))
    (if (i32.gt_s (local.get $b) (i32.const 256)) (then (local.set $b (i32.const 256))))
    (if (i32.lt_s (local.get $b) (i32.const 1)) (then (local.set $b (i32.const 1))))
    (global.set $batch (local.get $b)))
  (func $seal (result i32)
    (i32.atomic.store offset=12 (i32.const 0) (i32.const 1))
    (i32.const 0))
  ;; SharedKeys.reserve: a new run of at least `need` bytes, unless sealed or the arena is taken.
  (func $reserve (param $need i32) (result i32)
    (local $block i32)
    (local $off i32)
    (if (i32.atomic.load offset=12 (i32.const 0)) (then (return (i32.const 0))))
    (local.set $block (i32.shr_u (global.get $arenaLen) (i32.const 6)))
    (if (i32.gt_u (local.get $block) (i32.const 65536)) (then (local.set $block (i32.const 65536))))
    (if (i32.lt_u (local.get $block) (local.get $need)) (then (local.set $block (local.get $need))))
    (local.set $off (i32.atomic.rmw.add offset=0 (i32.const 0) (local.get $block)))
    (if (i64.gt_u
          (i64.add (i64.extend_i32_u (local.get $off)) (i64.extend_i32_u (local.get $need)))
          (i64.extend_i32_u (global.get $arenaLen)))
      (then (return (i32.const 0))))
    (global.set $at (local.get $off))
    (global.set $end (i32.add (local.get $off) (local.get $block)))
    (if (i32.gt_u (global.get $end) (global.get $arenaLen)) (then (global.set $end (global.get $arenaLen))))
    (i32.const 1))
  ;; A key of `len` bytes comes: 1 when its bytes can be written (word), 0 when the caller must add it.
  (func (export "begin") (param $len i32) (result i32)
    (if (i32.gt_u (local.get $len) (i32.const 254)) (then (return (i32.const 0))))
    (if (i32.lt_u (i32.sub (global.get $end) (global.get $at)) (i32.add (local.get $len) (i32.const 8)))
      (then
        (if (i32.eqz (call $reserve (i32.add (local.get $len) (i32.const 8))))
          (then (return (call $seal))))))
    (global.set $len (local.get $len))
    (i32.store8 (i32.add (global.get $arena) (global.get $at)) (local.get $len))
    (i32.const 1))
  ;; The key's bytes 8i to 8i + 7 (those past its length are not part of it).
  (func (export "word") (param $i i32) (param $w i64)
    (i64.store align=1
      (i32.add (i32.add (global.get $arena) (global.get $at)) (i32.add (i32.shl (local.get $i) (i32.const 3)) (i32.const 1)))
      (local.get $w)))
  ;; SharedKeys.sealedHere: the header read every 64 keys.
  (func $sealedHere (result i32)
    (if (i32.eqz (i32.and (global.get $pending) (i32.const 63)))
      (then (global.set $wasSealed (i32.ne (i32.atomic.load offset=12 (i32.const 0)) (i32.const 0)))))
    (global.get $wasSealed))
  ;; SharedKeys.count: this thread's keys into the shared count, sealed at the bound.
  (func $count
    (if (i32.ge_s (call $flushed) (global.get $maxKeys)) (then (drop (call $seal)))))
  (func $flushed (result i32)
    (local $n i32)
    (local.set $n (i32.add (i32.atomic.rmw.add offset=4 (i32.const 0) (global.get $pending)) (global.get $pending)))
    (drop (i32.atomic.rmw.add offset=8 (i32.const 0) (global.get $pendingBytes)))
    (global.set $pending (i32.const 0))
    (global.set $pendingBytes (i32.const 0))
    (local.get $n))
  ;; This thread adds no more: its keys into the shared count (no seal: that stays what the adds decided).
  (func (export "flush") (drop (call $flushed)))
  ;; The probe's first slot for a hash, as SharedKeys.add computes it:
  ;; Math.floor(((hash >>> 0) / 4294967296) * size), the same double operations.
  (func $first (param $hash i32) (result i32)
    (i32.trunc_f64_u
      (f64.floor
        (f64.mul
          (f64.div (f64.convert_i32_u (local.get $hash)) (f64.const 4294967296))
          (f64.convert_i32_s (global.get $size))))))
  ;; The hash's first slot read ahead of its add: its cache line on its way meanwhile.
  (func (export "touch") (param $hash i32)
    (global.set $touched
      (i32.xor (global.get $touched)
        (i32.load offset=64 (i32.shl (call $first (local.get $hash)) (i32.const 2))))))
  ;; The key written since begin is in the table: 1 when it is there now (added or found), 0 when the caller must add it.
  (func (export "end") (param $hash i32) (result i32)
    (local $tag i32)
    (local $i i32)
    (local $probes i32)
    (local $v i32)
    (local $slot i32)
    (local $off i32)
    (local $k i32)
    (local.set $tag (i32.shl (i32.and (local.get $hash) (global.get $tagMask)) (global.get $offBits)))
    (local.set $i (call $first (local.get $hash)))
    (block $full
      (loop $probe
        (br_if $full (i32.ge_u (local.get $probes) (global.get $size)))
        (local.set $slot (i32.add (i32.const 64) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $v (i32.atomic.load (local.get $slot)))
        (if (i32.eqz (local.get $v))
          (then
            (if (call $sealedHere) (then (return (call $seal))))
            (local.set $v
              (i32.atomic.rmw.cmpxchg
                (local.get $slot)
                (i32.const 0)
                (i32.or (local.get $tag) (i32.add (global.get $at) (i32.const 1)))))
            (if (i32.eqz (local.get $v))
              (then
                (global.set $at (i32.add (global.get $at) (i32.add (global.get $len) (i32.const 1))))
                (global.set $pendingBytes (i32.add (global.get $pendingBytes) (global.get $len)))
                (global.set $pending (i32.add (global.get $pending) (i32.const 1)))
                (if (i32.eq (global.get $pending) (global.get $batch)) (then (call $count)))
                (return (i32.const 1))))))
        ;; Another key, or this key from another thread (its bytes written before its swap).
        (if (i32.eq (i32.and (local.get $v) (i32.xor (global.get $offMask) (i32.const -1))) (local.get $tag))
          (then
            (local.set $off (i32.add (global.get $arena) (i32.sub (i32.and (local.get $v) (global.get $offMask)) (i32.const 1))))
            (if (i32.eq (i32.load8_u (local.get $off)) (global.get $len))
              (then
                (local.set $k (i32.const 0))
                (block $differ
                  (loop $byte
                    (if (i32.ge_u (local.get $k) (global.get $len)) (then (return (i32.const 1))))
                    (br_if $differ
                      (i32.ne
                        (i32.load8_u offset=1 (i32.add (local.get $off) (local.get $k)))
                        (i32.load8_u offset=1 (i32.add (i32.add (global.get $arena) (global.get $at)) (local.get $k)))))
                    (local.set $k (i32.add (local.get $k) (i32.const 1)))
                    (br $byte)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (if (i32.eq (local.get $i) (global.get $size)) (then (local.set $i (i32.const 0))))
        (local.set $probes (i32.add (local.get $probes) (i32.const 1)))
        (br $probe)))
    ;; Every slot taken (the count's batches ran past the bound): no room.
    (call $seal)))
