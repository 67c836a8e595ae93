;; add(p, end, table, mask, entries, arena): collect's step 2 over one piece
;; of a partition's lines, `key TAB tag digits LF`, at [p, end) (the piece is
;; followed by an LF sentinel). Per distinct key, an entry of 32 bytes at
;; `entries` (in order of first sight): the key's offset and length in the
;; arena (the key copied there: the piece's bytes are overwritten by the
;; next), then three f64 places, -1 until seen: the first line tagged 'O'
;; (ok), 'E' (error), anything else (input). A line's place is its number
;; times two, plus one when its tag is in lower case (the worker thread's
;; lines, numbered apart). A later line of a kind already placed counts in
;; DUPS ('O' and 'E') or IN_DUPS. Returns 0, or -1 when a line has no TAB
;; before its LF or no LF before `end`.
;;
;; Keys are hashed FNV-1a then murmur3's finaliser; the table is open
;; addressing, (entry + 1, hash) pairs of i32, cleared by the caller.
;; firsts.ts lays out the memory and keeps KEYS, DUPS, IN_DUPS, ARENA_TOP.
;;
;; Why WebAssembly: the same loop in JavaScript (ByteIndex, three
;; Float64Arrays) was a third of collect's main-thread time at 10 M keys.
;;
;; Layout (byte offsets; firsts.ts has the same constants):
;;   KEYS      0   i32 entries so far
;;   DUPS      4   i32
;;   IN_DUPS   8   i32
;;   ARENA_TOP 12  i32 the arena's next free byte
;;   64...         the table, the entries, the arena, the piece (firsts.ts)
(module
  (memory (export "memory") 1)
  (func (export "add") (param $p i32) (param $end i32) (param $table i32) (param $mask i32)
    (param $entries i32) (param $arena i32) (result i32)
    (local $k i32)
    (local $c i32)
    (local $h i32)
    (local $tab i32)
    (local $klen i32)
    (local $i i32)
    (local $slot i32)
    (local $s i32)
    (local $e i32)
    (local $j i32)
    (local $top i32)
    (local $tag i32)
    (local $type i32)
    (local $ord f64)
    (local $at f64)
    (local $q i32)
    (local $keys i32)
    (local $dups i32)
    (local $indups i32)
    (local.set $keys (i32.load (i32.const 0)))
    (local.set $dups (i32.load (i32.const 4)))
    (local.set $indups (i32.load (i32.const 8)))
    (local.set $top (i32.load (i32.const 12)))
    (block $all
      (loop $line
        (br_if $all (i32.ge_u (local.get $p) (local.get $end)))
        ;; The key up to its TAB, hashed as it goes.
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
        ;; The tag, then the line's number up to the LF (the sentinel ends the last).
        (local.set $tag (i32.load8_u offset=1 (local.get $tab)))
        (local.set $q (i32.add (local.get $tab) (i32.const 2)))
        (local.set $ord (f64.const 0))
        (block $digits
          (loop $digit
            (local.set $c (i32.load8_u (local.get $q)))
            (br_if $digits (i32.eq (local.get $c) (i32.const 10)))
            (local.set $ord
              (f64.add (f64.mul (local.get $ord) (f64.const 10))
                (f64.convert_i32_u (i32.sub (local.get $c) (i32.const 48)))))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $digit)))
        (if (i32.ge_u (local.get $q) (local.get $end)) (then (return (i32.const -1))))
        (local.set $at
          (f64.add (f64.mul (local.get $ord) (f64.const 2))
            (f64.convert_i32_u (i32.shr_u (i32.and (local.get $tag) (i32.const 32)) (i32.const 5)))))
        (local.set $type (i32.and (local.get $tag) (i32.const 0xdf)))
        ;; The key's entry, made at first sight.
        (local.set $i (i32.and (local.get $h) (local.get $mask)))
        (block $found
          (loop $probe
            (local.set $slot (i32.add (local.get $table) (i32.shl (local.get $i) (i32.const 3))))
            (local.set $s (i32.load (local.get $slot)))
            (if (i32.eqz (local.get $s))
              (then
                (local.set $e (i32.add (local.get $entries) (i32.shl (local.get $keys) (i32.const 5))))
                (local.set $keys (i32.add (local.get $keys) (i32.const 1)))
                (i32.store (local.get $slot) (local.get $keys))
                (i32.store offset=4 (local.get $slot) (local.get $h))
                (i32.store (local.get $e) (local.get $top))
                (i32.store offset=4 (local.get $e) (local.get $klen))
                (f64.store offset=8 (local.get $e) (f64.const -1))
                (f64.store offset=16 (local.get $e) (f64.const -1))
                (f64.store offset=24 (local.get $e) (f64.const -1))
                (memory.copy (local.get $top) (local.get $k) (local.get $klen))
                (local.set $top (i32.add (local.get $top) (local.get $klen)))
                (br $found)))
            (if (i32.eq (i32.load offset=4 (local.get $slot)) (local.get $h))
              (then
                (local.set $e (i32.add (local.get $entries)
                  (i32.shl (i32.sub (local.get $s) (i32.const 1)) (i32.const 5))))
                (if (i32.eq (i32.load offset=4 (local.get $e)) (local.get $klen))
                  (then
                    (local.set $s (i32.load (local.get $e)))
                    (local.set $j (i32.const 0))
                    (block $differ
                      (loop $cmp
                        (if (i32.eq (local.get $j) (local.get $klen)) (then (br $found)))
                        (br_if $differ
                          (i32.ne (i32.load8_u (i32.add (local.get $s) (local.get $j)))
                            (i32.load8_u (i32.add (local.get $k) (local.get $j)))))
                        (local.set $j (i32.add (local.get $j) (i32.const 1)))
                        (br $cmp)))))))
            (local.set $i (i32.and (i32.add (local.get $i) (i32.const 1)) (local.get $mask)))
            (br $probe)))
        ;; The first line of its kind is placed; a later one counted.
        (if (i32.eq (local.get $type) (i32.const 79))
          (then
            (if (f64.lt (f64.load offset=8 (local.get $e)) (f64.const 0))
              (then (f64.store offset=8 (local.get $e) (local.get $at)))
              (else (local.set $dups (i32.add (local.get $dups) (i32.const 1))))))
          (else
            (if (i32.eq (local.get $type) (i32.const 69))
              (then
                (if (f64.lt (f64.load offset=16 (local.get $e)) (f64.const 0))
                  (then (f64.store offset=16 (local.get $e) (local.get $at)))
                  (else (local.set $dups (i32.add (local.get $dups) (i32.const 1))))))
              (else
                (if (f64.lt (f64.load offset=24 (local.get $e)) (f64.const 0))
                  (then (f64.store offset=24 (local.get $e) (local.get $at)))
                  (else (local.set $indups (i32.add (local.get $indups) (i32.const 1)))))))))
        (local.set $p (i32.add (local.get $q) (i32.const 1)))
        (br $line)))
    (i32.store (i32.const 0) (local.get $keys))
    (i32.store (i32.const 4) (local.get $dups))
    (i32.store (i32.const 8) (local.get $indups))
    (i32.store (i32.const 12) (local.get $top))
    (i32.const 0))
)
