;; rows(len, atEnd, from): export's conversion of the service's usual lines
;; (key-scan.ts's shape: key, recommendedItems, scores, no whitespace, no
;; escapes) straight to csv-long, csv-wide or jsonl rows, line after line
;; of a window IN[0, len) of a piece from `from`, into OUT. It stops at the
;; first line it does not take whole (STATE[5] = REFUSED: the caller
;; converts that line in JavaScript, then calls again past it), before a
;; line the window may cut (WINDOW: the caller moves the window), or when
;; OUT has no room for the next line's bound (FULL). Returns where it
;; stopped; STATE holds what it wrote and counted.
;;
;; The checks are KeyScan.scan's (every string byte no quote, backslash or
;; control character; the JSON number grammar for every score; no more
;; scores than ids; the shape ending where the line does), so a line taken
;; here is one the parser calls LINE_OK; the rows are row-writer.ts's bytes
;; for it (cellInto's formula guard and comma quoting, ranks, scores as
;; printed, CRLF or LF). Lines longer than maxLine, with more than MAX_IDS
;; ids, a key longer than MAX_KEY, a key field other than the layout's,
;; csv-wide lines wider than `width`, and lines with scores when scoresOk
;; is 0 are refused: JavaScript decides what they are.
;;
;; Why WebAssembly: the JavaScript scan and row loop were two thirds of a
;; conversion worker's time, about 20 instructions an input byte.
;;
;; The caller puts a 0 byte at IN[len]: no rule of the shape takes it, so
;; the scan never passes the window's end. Cells are copied 16 bytes at a
;; time: reads run up to 15 bytes past a span (IN and KEY have room), writes
;; up to 15 bytes past the row, into room the next bytes overwrite (OUT's
;; end has room).
;;
;; Layout (byte offsets; export-rows.ts has the same constants):
;;   IN     0x000000  the window, up to CAP = 0x100000 bytes, then its 0 byte
;;   IDS    0x110000  the line's ids: start, end (i32s), MAX_IDS = 8192
;;   SCORES 0x120000  its scores: start, end
;;   KEY    0x130000  the key's CSV cell, MAX_KEY = 0x8000 key bytes
;;   RANKS  0x140000  ",1," to ",99," as 32-bit words (built by $init)
;;   FORMULA 0x140200 256 bytes: 1 for a byte that may start a formula
;;   STATE  0x141000  i32s: out length, lines, rows, lines with scores,
;;                    widest count, why it stopped, lines counted but not
;;                    converted (another group's, or dropped by the join),
;;                    the rows' items not in the catalog, their cells cut
;;   OUT    0x150000  the rows, up to OUT_CAP = 0x400000 bytes
;;   GROUPS 0x141100  a users join on disk: the group of each of the 256
;;                    fine partitions of the key's hash (see user-groups.ts)
;;   USER   0x560000  the line's user cells (csv) or fields (jsonl), written
;;                    by the `user` import, up to USER_CAP = 0x10000 bytes
;;   SPANS  0x570000  a catalog join: each row's catalog bytes (start, end)
;;   HASHES 0x580000  the line's ids' hashes (byteset.ts's hashBytes), for `items`
;;   ENTRY  0x588000  each id's cache entry (see below), 0 for `items` to fill
;;   CAT    0x590000  the entries `items` writes, up to CAT_CAP = 0x100000 bytes
;;   CACHE  0x6a0000  the items last seen: sets of four entries by hash, each
;;                    set's four tags (the hash, its low bit set; 0: empty)
;;                    in 16 bytes, then the entries (64, 128 or 256 bytes);
;;                    `catalog` sets the sets' mask and the entries' size,
;;                    the memory is grown for it
;;
;; A users join (join, set per piece): each line taken is asked of `user`
;; (its key, the key's hash as byteset.ts's hashBytes, its row count),
;; which writes the user's cells to USER and returns their length, or -1
;; for a line dropped (--users-required): counted as a line, no rows. With
;; a pass (passMode 1) a line of another group is counted as a line and
;; not converted (its group's pass does); with passMode 2 (a later pass
;; whose key scans are trusted) such a line is skipped on its key's bytes
;; alone, before the scan, counted nowhere, as Converter.convert does.
;;
;; A catalog join (catalog, set once): each line written, once the users
;; join keeps it, looks its ids up in CACHE; those not there are asked of
;; `items` in one call (the id count; their hashes in HASHES, 0 in ENTRY),
;; which looks them up in the catalog and writes their entries to CAT. An
;; entry: hash (i32), record length (i32), key length (u16; 0xffff: no key,
;; too long to cache), flags (u8: 1 valid, 2 not in the catalog), cells cut
;; (u8), the record (the cells each row ends with: ",a,b" or jsonl's
;; fields), csv-wide's column ends in the record (i32s), the key. Once the
;; line's rows are written, its entries from CAT go to CACHE (see
;; $cacheInsert). Why a cache here: the catalog's own lookups (a hash
;; table, then keys, offsets and cells apart) were four to six cache misses
;; a row, 450 to 900 ns on this VM; a cached entry is one line, found by
;; its set's tags. A line whose entries may not fit CAT is refused
;; (JavaScript writes it).
;;
;; `export --since` (since, set per piece): each line taken is asked of
;; `keep` once OUT has room for it (its start and the next line's, its key,
;; the key's hash, the digest of its first `top` ids as core/delta.ts
;; ListDigest makes it), so that the keep decision reads no line a second
;; time; a line it drops is counted nowhere, as if the piece had been cut
;; to its kept lines first (delta/filter.ts).
(module
  (import "env" "user" (func $user (param i32 i32 i32 i32) (result i32)))
  (import "env" "keep" (func $keep (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "items" (func $items (param i32) (result i32)))
  (memory (export "memory") 106 651)
  (data (i32.const 0x14023d) "\01") ;; =
  (data (i32.const 0x14022b) "\01") ;; +
  (data (i32.const 0x14022d) "\01") ;; -
  (data (i32.const 0x140240) "\01") ;; @
  (data (i32.const 0x1402ef) "\01") ;; lead byte of the full-width forms, checked further
  ;; Settings (setup): format 0 csv-long, 1 csv-wide, 2 jsonl.
  (global $fmt (mut i32) (i32.const 0))
  (global $withScore (mut i32) (i32.const 0))
  (global $guard (mut i32) (i32.const 0))
  (global $crlf (mut i32) (i32.const 0))
  (global $top (mut i32) (i32.const 0))
  (global $width (mut i32) (i32.const 0))
  (global $keyField (mut i32) (i32.const 0))
  (global $maxLine (mut i32) (i32.const 0))
  (global $scoresOk (mut i32) (i32.const 0))
  ;; The line $scan accepted.
  (global $nIds (mut i32) (i32.const 0))
  (global $nScores (mut i32) (i32.const 0))
  (global $hasScores (mut i32) (i32.const 0))
  (global $keyS (mut i32) (i32.const 0))
  (global $keyE (mut i32) (i32.const 0))
  (global $field (mut i32) (i32.const 0))
  (global $klen (mut i32) (i32.const 0))
  ;; The users join (join): on or off, the most bytes a user's cells take, the pass's mode and group.
  (global $join (mut i32) (i32.const 0))
  (global $userMax (mut i32) (i32.const 0))
  (global $passMode (mut i32) (i32.const 0))
  (global $group (mut i32) (i32.const 0))
  ;; The cells the `user` import wrote to USER for the line being written.
  (global $ulen (mut i32) (i32.const 0))
  ;; The catalog join (catalog): on or off, the most bytes a row's catalog cells take, the columns;
  ;; the line's bound of them (checked against CAT_CAP), an entry's bytes of csv-wide column ends.
  (global $cat (mut i32) (i32.const 0))
  (global $catMax (mut i32) (i32.const 0))
  (global $catCols (mut i32) (i32.const 0))
  (global $catBound (mut i32) (i32.const 0))
  (global $colBytes (mut i32) (i32.const 0))
  ;; CACHE's sets less one, its entries' size (log2); the rows' items not in the catalog and cells cut (for STATE).
  (global $catMask (mut i32) (i32.const 0))
  (global $slotShift (mut i32) (i32.const 6))
  (global $catMissing (mut i32) (i32.const 0))
  (global $catCut (mut i32) (i32.const 0))
  ;; What the probes' first loads read (unused: written so that they are made).
  (global $touched (mut i32) (i32.const 0))
  ;; Where CACHE's entries start (past its tags), the counter that picks a way to evict.
  (global $dataBase (mut i32) (i32.const 0))
  (global $victim (mut i32) (i32.const 0))
  ;; --since (since): on or off; the line being written (its start, the next line's).
  (global $since (mut i32) (i32.const 0))
  (global $lineS (mut i32) (i32.const 0))
  (global $lineNext (mut i32) (i32.const 0))
  (start $init)
  (func $init
    (local $r i32)
    (local.set $r (i32.const 1))
    (loop $rank
      (i32.store (i32.add (i32.const 0x13fffc) (i32.shl (local.get $r) (i32.const 2)))
        (if (result i32) (i32.lt_u (local.get $r) (i32.const 10))
          (then (i32.or (i32.const 0x2c002c) (i32.shl (i32.add (i32.const 48) (local.get $r)) (i32.const 8))))
          (else
            (i32.or
              (i32.or (i32.const 0x2c00002c)
                (i32.shl (i32.add (i32.const 48) (i32.div_u (local.get $r) (i32.const 10))) (i32.const 8)))
              (i32.shl (i32.add (i32.const 48) (i32.rem_u (local.get $r) (i32.const 10))) (i32.const 16))))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $rank (i32.lt_u (local.get $r) (i32.const 100)))))
  (func (export "setup") (param $fmt i32) (param $withScore i32) (param $guard i32) (param $crlf i32)
    (param $top i32) (param $width i32) (param $keyField i32) (param $maxLine i32) (param $scoresOk i32)
    (global.set $fmt (local.get $fmt))
    (global.set $withScore (local.get $withScore))
    (global.set $guard (local.get $guard))
    (global.set $crlf (local.get $crlf))
    (global.set $top (local.get $top))
    (global.set $width (local.get $width))
    (global.set $keyField (local.get $keyField))
    (global.set $maxLine (local.get $maxLine))
    (global.set $scoresOk (local.get $scoresOk)))
  (func (export "join") (param $join i32) (param $userMax i32) (param $passMode i32) (param $group i32)
    (global.set $join (local.get $join))
    (global.set $userMax (local.get $userMax))
    (global.set $passMode (local.get $passMode))
    (global.set $group (local.get $group)))
  (func (export "since") (param $on i32)
    (global.set $since (local.get $on)))
  (func (export "catalog") (param $on i32) (param $max i32) (param $cols i32) (param $mask i32) (param $shift i32)
    (param $colBytes i32)
    (global.set $colBytes (local.get $colBytes))
    (global.set $cat (local.get $on))
    (global.set $catMax (local.get $max))
    (global.set $catCols (local.get $cols))
    (global.set $catMask (local.get $mask))
    (global.set $dataBase (i32.add (i32.const 0x6a0000) (i32.shl (i32.add (local.get $mask) (i32.const 1)) (i32.const 4))))
    (global.set $slotShift (local.get $shift)))
  ;; The line's bound of what `items` may write to CAT and of its rows' catalog cells: `count`
  ;; entries (header, record, column ends, a key short enough to cache, at most 256 bytes, and 3
  ;; to align), csv-wide's empty cells too. i64: a wide line times a long record may pass 2^31;
  ;; past CAT_CAP it is refused anyway.
  (func $catBound (param $count i32) (result i64)
    (i64.add
      (i64.mul
        (i64.extend_i32_u (local.get $count))
        (i64.add (i64.extend_i32_u (i32.add (global.get $catMax) (global.get $colBytes))) (i64.const 272)))
      (select
        (i64.mul (i64.extend_i32_u (global.get $width)) (i64.extend_i32_u (global.get $catCols)))
        (i64.const 0)
        (i32.eq (global.get $fmt) (i32.const 1)))))
  ;; byteset.ts's hashBytes of [s, e): FNV-1a, then murmur3's finaliser.
  (func $hash (param $s i32) (param $e i32) (result i32)
    (local $h i32)
    (local.set $h (i32.const 0x811c9dc5))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $s) (local.get $e)))
        (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $s))) (i32.const 0x01000193)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $byte)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
    (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
  ;; The group of a key's hash (partitionOf over 256: its top byte).
  (func $groupOf (param $h i32) (result i32)
    (i32.load8_u offset=0x141100 (i32.shr_u (local.get $h) (i32.const 24))))
  ;; user-groups.ts's scannedGroup for the line at s: 1 when it starts as
  ;; the service writes it and its key's group is another than the pass's
  ;; (the line is skipped), else 0. The key runs to its quote; a backslash,
  ;; a line feed or the window's end first: 0 (the scan and parse decide).
  (func $otherGroup (param $s i32) (param $len i32) (result i32)
    (local $p i32)
    (local $c i32)
    (if (i64.ne (i64.load (local.get $s)) (i64.const 0x227475706e69227b)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load offset=7 (local.get $s)) (i32.const 0x227b3a22)) (then (return (i32.const 0))))
    (if (i64.ne (i64.load offset=11 (local.get $s)) (i64.const 0x3a22644972657375)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u offset=19 (local.get $s)) (i32.const 0x22)) (then (return (i32.const 0))))
    (local.set $p (i32.add (local.get $s) (i32.const 20)))
    (block $end
      (loop $byte
        (if (i32.ge_u (local.get $p) (local.get $len)) (then (return (i32.const 0))))
        (local.set $c (i32.load8_u (local.get $p)))
        (br_if $end (i32.eq (local.get $c) (i32.const 0x22)))
        (if (i32.or (i32.eq (local.get $c) (i32.const 0x5c)) (i32.eq (local.get $c) (i32.const 10)))
          (then (return (i32.const 0))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $byte)))
    (i32.ne
      (call $groupOf (call $hash (i32.add (local.get $s) (i32.const 20)) (local.get $p)))
      (global.get $group)))
  ;; murmur3's finaliser.
  (func $fmix (param $h i32) (result i32)
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
    (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
  ;; The line's ids IDS[0, count) digested as ListDigest.id does (key-scan.wat's
  ;; $line the same: words of four bytes, then one of the last 0 to 3 with
  ;; their count on top), then asked of `keep` with the key and its hash.
  (func $keepLine (param $count i32) (result i32)
    (local $i i32)
    (local $p i32)
    (local $q i32)
    (local $c i32)
    (local $n i32)
    (local $a i32)
    (local $b i32)
    (local.set $a (i32.const 0x811c9dc5))
    (local.set $b (i32.const 0x9747b28c))
    (block $ids_done
      (loop $id
        (br_if $ids_done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $p (i32.load (i32.add (i32.const 0x110000) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $q (i32.load offset=4 (i32.add (i32.const 0x110000) (i32.shl (local.get $i) (i32.const 3)))))
        (block $words_done
          (loop $word
            (br_if $words_done (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $q)))
            (local.set $c
              (i32.mul
                (i32.rotl (i32.mul (i32.load (local.get $p)) (i32.const 0xcc9e2d51)) (i32.const 15))
                (i32.const 0x1b873593)))
            (local.set $a (i32.mul (i32.xor (local.get $a) (local.get $c)) (i32.const 0x01000193)))
            (local.set $b
              (i32.add
                (i32.mul (i32.rotl (i32.xor (local.get $b) (local.get $c)) (i32.const 13)) (i32.const 5))
                (i32.const 0xe6546b64)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $word)))
        (local.set $n (i32.sub (local.get $q) (local.get $p)))
        (local.set $c
          (i32.or
            (i32.shl (local.get $n) (i32.const 24))
            (i32.and
              (i32.load (local.get $p))
              (i32.sub (i32.shl (i32.const 1) (i32.shl (local.get $n) (i32.const 3))) (i32.const 1)))))
        (local.set $c
          (i32.mul
            (i32.rotl (i32.mul (local.get $c) (i32.const 0xcc9e2d51)) (i32.const 15))
            (i32.const 0x1b873593)))
        (local.set $a (i32.mul (i32.xor (local.get $a) (local.get $c)) (i32.const 0x01000193)))
        (local.set $b
          (i32.add
            (i32.mul (i32.rotl (i32.xor (local.get $b) (local.get $c)) (i32.const 13)) (i32.const 5))
            (i32.const 0xe6546b64)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $id)))
    (call $keep
      (global.get $lineS)
      (global.get $lineNext)
      (global.get $keyS)
      (global.get $keyE)
      (call $hash (global.get $keyS) (global.get $keyE))
      (call $fmix (i32.xor (local.get $a) (local.get $count)))
      (call $fmix (local.get $b))))
  ;; The place after the next LF from p, or -1 when the window has none before len.
  (func $nextLine (param $p i32) (param $len i32) (result i32)
    (local $m i32)
    (loop $chunk
      (if (i32.ge_u (local.get $p) (local.get $len)) (then (return (i32.const -1))))
      (local.set $m
        (i8x16.bitmask
          (i8x16.eq (v128.load (local.get $p)) (v128.const i8x16 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10))))
      (if (i32.eqz (local.get $m))
        (then
          (local.set $p (i32.add (local.get $p) (i32.const 16)))
          (br $chunk))))
    (local.set $p (i32.add (local.get $p) (i32.ctz (local.get $m))))
    (if (i32.ge_u (local.get $p) (local.get $len)) (then (return (i32.const -1))))
    (i32.add (local.get $p) (i32.const 1)))
  ;; The user's cells (USER, ulen bytes) at o, 16 bytes at a time.
  (func $userCells (param $o i32) (result i32)
    (if (i32.eqz (global.get $ulen)) (then (return (local.get $o))))
    (call $copy (local.get $o) (i32.const 0x560000) (i32.add (i32.const 0x560000) (global.get $ulen))))
  ;; The line at s in the shape: the place after its final `}`, or -1; the
  ;; key, ids and scores to the globals, IDS and SCORES. key-scan.wat's
  ;; $line without the hashes: string and digit runs 16 bytes at a time.
  (func $scan (param $s i32) (result i32)
    (local $p i32)
    (local $q i32)
    (local $c i32)
    (local $m i32)
    (local $ids i32)
    (local $scores i32)
    (local $w i64)
    (local $v v128)
    ;; {"input":{"
    (if (i64.ne (i64.load (local.get $s)) (i64.const 0x227475706e69227b)) (then (return (i32.const -1))))
    (if (i32.ne (i32.load offset=7 (local.get $s)) (i32.const 0x227b3a22)) (then (return (i32.const -1))))
    ;; userId":" or itemId":"
    (local.set $w (i64.load offset=11 (local.get $s)))
    (if (i64.eq (local.get $w) (i64.const 0x3a22644972657375))
      (then (global.set $field (i32.const 1)))
      (else
        (if (i64.ne (local.get $w) (i64.const 0x3a2264496d657469)) (then (return (i32.const -1))))
        (global.set $field (i32.const 2))))
    (if (i32.ne (i32.load8_u offset=19 (local.get $s)) (i32.const 0x22)) (then (return (i32.const -1))))
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
    (if (i32.gt_u (i32.sub (local.get $q) (local.get $p)) (i32.const 0x8000)) (then (return (i32.const -1))))
    (global.set $keyS (local.get $p))
    (global.set $keyE (local.get $q))
    ;; },"output":{"recommendedItems":[
    (if (i64.ne (i64.load offset=1 (local.get $q)) (i64.const 0x757074756f222c7d)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=9 (local.get $q)) (i64.const 0x636572227b3a2274)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=17 (local.get $q)) (i64.const 0x6465646e656d6d6f)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=25 (local.get $q)) (i64.const 0x5b3a22736d657449)) (then (return (i32.const -1))))
    (local.set $p (i32.add (local.get $q) (i32.const 33)))
    (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x5d))
      (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
      (else
        (loop $id
          (if (i32.ne (i32.load8_u (local.get $p)) (i32.const 0x22)) (then (return (i32.const -1))))
          (if (i32.ge_u (local.get $ids) (i32.const 8192)) (then (return (i32.const -1))))
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
          (local.set $c (i32.add (i32.const 0x110000) (i32.shl (local.get $ids) (i32.const 3))))
          (i32.store (local.get $c) (local.get $p))
          (i32.store offset=4 (local.get $c) (local.get $q))
          (local.set $ids (i32.add (local.get $ids) (i32.const 1)))
          (local.set $c (i32.load8_u offset=1 (local.get $q)))
          (local.set $p (i32.add (local.get $q) (i32.const 2)))
          (br_if $id (i32.eq (local.get $c) (i32.const 0x2c)))
          (if (i32.ne (local.get $c) (i32.const 0x5d)) (then (return (i32.const -1)))))))
    (global.set $nIds (local.get $ids))
    (global.set $hasScores (i32.const 0))
    ;; ,"scores":[ JSON numbers (the grammar's every rule) ], no more of them than ids.
    (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x2c))
      (then
        (if (i64.ne (i64.load (local.get $p)) (i64.const 0x7365726f6373222c)) (then (return (i32.const -1))))
        (if (i32.ne (i32.load offset=7 (local.get $p)) (i32.const 0x5b3a2273)) (then (return (i32.const -1))))
        (global.set $hasScores (i32.const 1))
        (local.set $p (i32.add (local.get $p) (i32.const 11)))
        (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 0x5d))
          (then (local.set $p (i32.add (local.get $p) (i32.const 1))))
          (else
            (loop $score
              (if (i32.ge_u (local.get $scores) (local.get $ids)) (then (return (i32.const -1))))
              (i32.store (i32.add (i32.const 0x120000) (i32.shl (local.get $scores) (i32.const 3))) (local.get $p))
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
              (i32.store (i32.add (i32.const 0x120004) (i32.shl (local.get $scores) (i32.const 3))) (local.get $p))
              (local.set $scores (i32.add (local.get $scores) (i32.const 1)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br_if $score (i32.eq (local.get $c) (i32.const 0x2c)))
              (if (i32.ne (local.get $c) (i32.const 0x5d)) (then (return (i32.const -1)))))))))
    (global.set $nScores (local.get $scores))
    ;; },"error":null}
    (if (i64.ne (i64.load (local.get $p)) (i64.const 0x726f727265222c7d)) (then (return (i32.const -1))))
    (if (i64.ne (i64.load offset=7 (local.get $p)) (i64.const 0x7d6c6c756e3a2272)) (then (return (i32.const -1))))
    (i32.add (local.get $p) (i32.const 15)))
  ;; row-writer.ts's formulaStart: = + - @, or EF BC 9D/8B/8D/A0 (full-width);
  ;; not a sign and a number (-8234567890123456789, -1.3, +4915112345).
  (func $formula (param $s i32) (param $e i32) (result i32)
    (local $c i32)
    (if (i32.ge_u (local.get $s) (local.get $e)) (then (return (i32.const 0))))
    (local.set $c (i32.load8_u (local.get $s)))
    (if (i32.or (i32.eq (local.get $c) (i32.const 45)) (i32.eq (local.get $c) (i32.const 43)))
      (then (return (call $notSigned (local.get $s) (local.get $e)))))
    (if (i32.ne (local.get $c) (i32.const 0xef)) (then (return (i32.load8_u offset=0x140200 (local.get $c)))))
    (if (i32.ge_u (i32.add (local.get $s) (i32.const 2)) (local.get $e)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load8_u offset=1 (local.get $s)) (i32.const 0xbc)) (then (return (i32.const 0))))
    (local.set $c (i32.load8_u offset=2 (local.get $s)))
    (i32.or
      (i32.or (i32.eq (local.get $c) (i32.const 0x9d)) (i32.eq (local.get $c) (i32.const 0x8b)))
      (i32.or (i32.eq (local.get $c) (i32.const 0x8d)) (i32.eq (local.get $c) (i32.const 0xa0)))))
  ;; row-writer.ts's signedNumber, negated: 0 for a minus or plus, then digits,
  ;; dots and commas with one digit at least; else 1 (a formula's start).
  (func $notSigned (param $s i32) (param $e i32) (result i32)
    (local $b i32)
    (local $digit i32)
    (local.set $s (i32.add (local.get $s) (i32.const 1)))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $s) (local.get $e)))
        (local.set $b (i32.load8_u (local.get $s)))
        (if (i32.lt_u (i32.sub (local.get $b) (i32.const 48)) (i32.const 10))
          (then (local.set $digit (i32.const 1)))
          (else
            (if (i32.and (i32.ne (local.get $b) (i32.const 46)) (i32.ne (local.get $b) (i32.const 44)))
              (then (return (i32.const 1))))))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $byte)))
    (i32.eqz (local.get $digit)))
  ;; row-writer.ts's cellInto for a string without escapes: the formula
  ;; guard's apostrophe, the bytes, quotes around them when one is a comma.
  (func $cell (param $o i32) (param $s i32) (param $e i32) (result i32)
    (local $at i32)
    (local $b i32)
    (local $comma i32)
    (local.set $at (local.get $o))
    (if (i32.and (global.get $guard) (call $formula (local.get $s) (local.get $e)))
      (then
        (i32.store8 (local.get $o) (i32.const 39))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $s) (local.get $e)))
        (local.set $b (i32.load8_u (local.get $s)))
        (local.set $comma (i32.or (local.get $comma) (i32.eq (local.get $b) (i32.const 44))))
        (i32.store8 (local.get $o) (local.get $b))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $byte)))
    (if (local.get $comma)
      (then
        (memory.copy
          (i32.add (local.get $at) (i32.const 1))
          (local.get $at)
          (i32.sub (local.get $o) (local.get $at)))
        (i32.store8 (local.get $at) (i32.const 34))
        (i32.store8 offset=1 (local.get $o) (i32.const 34))
        (local.set $o (i32.add (local.get $o) (i32.const 2)))))
    (local.get $o))
  ;; src[s, e) to o, 16 bytes at a time; returns the end.
  (func $copy (param $o i32) (param $s i32) (param $e i32) (result i32)
    (local $d i32)
    (local.set $d (local.get $o))
    (loop $chunk
      (v128.store (local.get $d) (v128.load (local.get $s)))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (local.set $s (i32.add (local.get $s) (i32.const 16)))
      (br_if $chunk (i32.lt_s (local.get $s) (local.get $e))))
    (i32.add (local.get $d) (i32.sub (local.get $e) (local.get $s))))
  (func $eol (param $o i32) (result i32)
    (if (global.get $crlf)
      (then
        (i32.store16 (local.get $o) (i32.const 0x0a0d))
        (return (i32.add (local.get $o) (i32.const 2)))))
    (i32.store8 (local.get $o) (i32.const 10))
    (i32.add (local.get $o) (i32.const 1)))
  ;; ",rank," for ranks of 100 and more.
  (func $rank (param $o i32) (param $r i32) (result i32)
    (local $n i32)
    (local $t i32)
    (local.set $t (local.get $r))
    (loop $digits
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
      (br_if $digits (local.get $t)))
    (i32.store8 (local.get $o) (i32.const 44))
    (i32.store8 offset=1 (i32.add (local.get $o) (local.get $n)) (i32.const 44))
    (local.set $t (i32.add (local.get $o) (local.get $n)))
    (loop $digit
      (i32.store8 (local.get $t) (i32.add (i32.const 48) (i32.rem_u (local.get $r) (i32.const 10))))
      (local.set $t (i32.sub (local.get $t) (i32.const 1)))
      (local.set $r (i32.div_u (local.get $r) (i32.const 10)))
      (br_if $digit (local.get $r)))
    (i32.add (local.get $o) (i32.add (local.get $n) (i32.const 2))))
  ;; csv-long.ts's longRowsPlain: key, rank, id[, score] per id. Everything
  ;; inline (no call per cell: V8 inlines no WebAssembly call, and the calls
  ;; were a third of this loop): the key, id and score copied 16 bytes at a
  ;; time, the line end as one 16-bit store (LF's spare 0 byte overwritten).
  (func $long (param $o i32) (param $count i32) (result i32)
    (local $ulen i32)
    (local $cat i32)
    (local $i i32)
    (local $k i32)
    (local $s i32)
    (local $len i32)
    (local $klen i32)
    (local $eol i32)
    (local $eolLen i32)
    (local $withScore i32)
    (local $nScores i32)
    (local $guard i32)
    (local $v v128)
    (local.set $klen (global.get $klen))
    (local.set $ulen (global.get $ulen))
    (local.set $cat (global.get $cat))
    (local.set $withScore (global.get $withScore))
    (local.set $nScores (global.get $nScores))
    (local.set $guard (global.get $guard))
    (local.set $eol (select (i32.const 0x0a0d) (i32.const 0x0a) (global.get $crlf)))
    (local.set $eolLen (select (i32.const 2) (i32.const 1) (global.get $crlf)))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $k (i32.const 0))
        (loop $key
          (v128.store (i32.add (local.get $o) (local.get $k)) (v128.load offset=0x130000 (local.get $k)))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $key (i32.lt_u (local.get $k) (local.get $klen))))
        (local.set $o (i32.add (local.get $o) (local.get $klen)))
        (if (i32.lt_u (local.get $i) (i32.const 99))
          (then
            (i32.store (local.get $o) (i32.load offset=0x140000 (i32.shl (local.get $i) (i32.const 2))))
            (local.set $o (i32.add (local.get $o) (select (i32.const 3) (i32.const 4) (i32.lt_u (local.get $i) (i32.const 9))))))
          (else (local.set $o (call $rank (local.get $o) (i32.add (local.get $i) (i32.const 1))))))
        ;; The id: its bytes as they are unless longer than 16, holding a comma, or maybe a formula.
        (local.set $s (i32.load offset=0x110000 (i32.shl (local.get $i) (i32.const 3))))
        (local.set $len (i32.sub (i32.load offset=0x110004 (i32.shl (local.get $i) (i32.const 3))) (local.get $s)))
        (local.set $v (v128.load (local.get $s)))
        (if (i32.or
              (i32.or
                (i32.gt_u (local.get $len) (i32.const 16))
                (i32.and (local.get $guard) (i32.load8_u offset=0x140200 (i8x16.extract_lane_u 0 (local.get $v)))))
              (i32.and
                (i8x16.bitmask (i8x16.eq (local.get $v) (v128.const i8x16 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44)))
                (i32.sub (i32.shl (i32.const 1) (local.get $len)) (i32.const 1))))
          (then (local.set $o (call $cell (local.get $o) (local.get $s) (i32.add (local.get $s) (local.get $len)))))
          (else
            (v128.store (local.get $o) (local.get $v))
            (local.set $o (i32.add (local.get $o) (local.get $len)))))
        (if (local.get $withScore)
          (then
            (i32.store8 (local.get $o) (i32.const 44))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (if (i32.lt_u (local.get $i) (local.get $nScores))
              (then
                (local.set $s (i32.load offset=0x120000 (i32.shl (local.get $i) (i32.const 3))))
                (local.set $len (i32.sub (i32.load offset=0x120004 (i32.shl (local.get $i) (i32.const 3))) (local.get $s)))
                (local.set $k (i32.const 0))
                (loop $digits
                  (v128.store (i32.add (local.get $o) (local.get $k)) (v128.load (i32.add (local.get $s) (local.get $k))))
                  (local.set $k (i32.add (local.get $k) (i32.const 16)))
                  (br_if $digits (i32.lt_u (local.get $k) (local.get $len))))
                (local.set $o (i32.add (local.get $o) (local.get $len)))))))
        ;; The row's catalog cells (SPANS: its entry's record).
        (if (local.get $cat)
          (then
            (local.set $s (i32.load offset=0x570000 (i32.shl (local.get $i) (i32.const 3))))
            (local.set $len (i32.sub (i32.load offset=0x570004 (i32.shl (local.get $i) (i32.const 3))) (local.get $s)))
            (if (local.get $len)
              (then
                (local.set $k (i32.const 0))
                (loop $cat
                  (v128.store (i32.add (local.get $o) (local.get $k)) (v128.load (i32.add (local.get $s) (local.get $k))))
                  (local.set $k (i32.add (local.get $k) (i32.const 16)))
                  (br_if $cat (i32.lt_u (local.get $k) (local.get $len))))
                (local.set $o (i32.add (local.get $o) (local.get $len)))))))
        (if (local.get $ulen)
          (then
            (local.set $k (i32.const 0))
            (loop $cells
              (v128.store (i32.add (local.get $o) (local.get $k)) (v128.load offset=0x560000 (local.get $k)))
              (local.set $k (i32.add (local.get $k) (i32.const 16)))
              (br_if $cells (i32.lt_u (local.get $k) (local.get $ulen))))
            (local.set $o (i32.add (local.get $o) (local.get $ulen)))))
        (i32.store16 (local.get $o) (local.get $eol))
        (local.set $o (i32.add (local.get $o) (local.get $eolLen)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row)))
    (local.get $o))
    ;; csv-wide.ts's writeWideRow: key, `width` id cells[, `width` score cells],
  ;; the cells inline as in $long.
  (func $wide (param $o i32) (param $count i32) (result i32)
    (local $i i32)
    (local $n i32)
    (local $k i32)
    (local $s i32)
    (local $len i32)
    (local $guard i32)
    (local $v v128)
    (local.set $guard (global.get $guard))
    (local.set $o (call $copy (local.get $o) (i32.const 0x130000) (i32.add (i32.const 0x130000) (global.get $klen))))
    (block $ids_done
      (loop $ids
        (br_if $ids_done (i32.ge_u (local.get $i) (local.get $count)))
        (i32.store8 (local.get $o) (i32.const 44))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $s (i32.load offset=0x110000 (i32.shl (local.get $i) (i32.const 3))))
        (local.set $len (i32.sub (i32.load offset=0x110004 (i32.shl (local.get $i) (i32.const 3))) (local.get $s)))
        (local.set $v (v128.load (local.get $s)))
        (if (i32.or
              (i32.or
                (i32.gt_u (local.get $len) (i32.const 16))
                (i32.and (local.get $guard) (i32.load8_u offset=0x140200 (i8x16.extract_lane_u 0 (local.get $v)))))
              (i32.and
                (i8x16.bitmask (i8x16.eq (local.get $v) (v128.const i8x16 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44 44)))
                (i32.sub (i32.shl (i32.const 1) (local.get $len)) (i32.const 1))))
          (then (local.set $o (call $cell (local.get $o) (local.get $s) (i32.add (local.get $s) (local.get $len)))))
          (else
            (v128.store (local.get $o) (local.get $v))
            (local.set $o (i32.add (local.get $o) (local.get $len)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $ids)))
    ;; The empty cells past the line's ids.
    (local.set $o (call $commas (local.get $o) (i32.sub (global.get $width) (local.get $count))))
    (if (global.get $withScore)
      (then
        (local.set $n (select (global.get $nScores) (local.get $count) (i32.lt_u (global.get $nScores) (local.get $count))))
        (local.set $i (i32.const 0))
        (block $scores_done
          (loop $scores
            (br_if $scores_done (i32.ge_u (local.get $i) (local.get $n)))
            (i32.store8 (local.get $o) (i32.const 44))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))
            (local.set $s (i32.load offset=0x120000 (i32.shl (local.get $i) (i32.const 3))))
            (local.set $len (i32.sub (i32.load offset=0x120004 (i32.shl (local.get $i) (i32.const 3))) (local.get $s)))
            (local.set $k (i32.const 0))
            (loop $digits
              (v128.store (i32.add (local.get $o) (local.get $k)) (v128.load (i32.add (local.get $s) (local.get $k))))
              (local.set $k (i32.add (local.get $k) (i32.const 16)))
              (br_if $digits (i32.lt_u (local.get $k) (local.get $len))))
            (local.set $o (i32.add (local.get $o) (local.get $len)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $scores)))
        (local.set $o (call $commas (local.get $o) (i32.sub (global.get $width) (local.get $n))))))
    (if (global.get $cat) (then (local.set $o (call $wideItems (local.get $o) (local.get $count)))))
    (call $eol (call $userCells (local.get $o))))
  ;; csv-wide's catalog columns, each `width` cells: column c of the line's
  ;; ids' entries (the record from its column's start to its end, comma
  ;; first), then empty ones.
  (func $wideItems (param $o i32) (param $count i32) (result i32)
    (local $col i32)
    (local $i i32)
    (local $e i32)
    (local $rec i32)
    (local $ends i32)
    (local $s i32)
    (block $cols_done
      (loop $cols
        (br_if $cols_done (i32.ge_u (local.get $col) (global.get $catCols)))
        (local.set $i (i32.const 0))
        (block $ids_done
          (loop $ids
            (br_if $ids_done (i32.ge_u (local.get $i) (local.get $count)))
            (local.set $e (i32.load offset=0x588000 (i32.shl (local.get $i) (i32.const 2))))
            (local.set $rec (i32.add (local.get $e) (i32.const 12)))
            (local.set $ends (i32.add (local.get $rec) (i32.load offset=4 (local.get $e))))
            (local.set $s
              (select
                (i32.const 0)
                (i32.load (i32.add (local.get $ends) (i32.shl (i32.sub (local.get $col) (i32.const 1)) (i32.const 2))))
                (i32.eqz (local.get $col))))
            (local.set $o
              (call $copy
                (local.get $o)
                (i32.add (local.get $rec) (local.get $s))
                (i32.add (local.get $rec) (i32.load (i32.add (local.get $ends) (i32.shl (local.get $col) (i32.const 2)))))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $ids)))
        (local.set $o (call $commas (local.get $o) (i32.sub (global.get $width) (local.get $count))))
        (local.set $col (i32.add (local.get $col) (i32.const 1)))
        (br $cols)))
    (local.get $o))
  ;; n commas at o (n <= 0: none).
  (func $commas (param $o i32) (param $n i32) (result i32)
    (block $done
      (loop $comma
        (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
        (i32.store8 (local.get $o) (i32.const 44))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $comma)))
    (local.get $o))
  ;; jsonl.ts's writeJsonLine: {"userId":"K","items":[{"itemId":"I"[,"score":S|null]},...]}
  ;; The literals as 8- and 4-byte stores (overlapping), the strings and
  ;; scores copied 16 bytes at a time, inline as in $long.
  (func $jsonl (param $o i32) (param $count i32) (result i32)
    (local $i i32)
    (local $k i32)
    (local $s i32)
    (local $len i32)
    (local $withScore i32)
    (local $nScores i32)
    ;; {"userId":" or {"itemId":" (11 bytes: 8, then 4 overlapping one)
    (if (i32.eq (global.get $field) (i32.const 1))
      (then (i64.store (local.get $o) (i64.const 0x644972657375227b)))
      (else (i64.store (local.get $o) (i64.const 0x64496d657469227b))))
    (i32.store offset=7 (local.get $o) (i32.const 0x223a2264))
    (local.set $o (call $copy (i32.add (local.get $o) (i32.const 11)) (global.get $keyS) (global.get $keyE)))
    ;; The key's quote, the user's fields, ,"items":[
    (i32.store8 (local.get $o) (i32.const 0x22))
    (local.set $o (call $userCells (i32.add (local.get $o) (i32.const 1))))
    (i64.store (local.get $o) (i64.const 0x22736d657469222c))
    (i32.store16 offset=8 (local.get $o) (i32.const 0x5b3a))
    (local.set $o (i32.add (local.get $o) (i32.const 10)))
    (local.set $withScore (global.get $withScore))
    (local.set $nScores (global.get $nScores))
    (block $done
      (loop $item
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (if (local.get $i)
          (then
            (i32.store8 (local.get $o) (i32.const 44))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))))
        ;; {"itemId":"
        (i64.store (local.get $o) (i64.const 0x64496d657469227b))
        (i32.store offset=7 (local.get $o) (i32.const 0x223a2264))
        (local.set $o (i32.add (local.get $o) (i32.const 11)))
        (local.set $s (i32.load offset=0x110000 (i32.shl (local.get $i) (i32.const 3))))
        (local.set $len (i32.sub (i32.load offset=0x110004 (i32.shl (local.get $i) (i32.const 3))) (local.get $s)))
        (local.set $k (i32.const 0))
        (loop $id
          (v128.store (i32.add (local.get $o) (local.get $k)) (v128.load (i32.add (local.get $s) (local.get $k))))
          (local.set $k (i32.add (local.get $k) (i32.const 16)))
          (br_if $id (i32.lt_u (local.get $k) (local.get $len))))
        (local.set $o (i32.add (local.get $o) (local.get $len)))
        (if (local.get $withScore)
          (then
            ;; ","score":
            (i64.store (local.get $o) (i64.const 0x65726f6373222c22))
            (i32.store16 offset=8 (local.get $o) (i32.const 0x3a22))
            (local.set $o (i32.add (local.get $o) (i32.const 10)))
            (if (i32.lt_u (local.get $i) (local.get $nScores))
              (then
                (local.set $s (i32.load offset=0x120000 (i32.shl (local.get $i) (i32.const 3))))
                (local.set $len (i32.sub (i32.load offset=0x120004 (i32.shl (local.get $i) (i32.const 3))) (local.get $s)))
                (local.set $k (i32.const 0))
                (loop $digits
                  (v128.store (i32.add (local.get $o) (local.get $k)) (v128.load (i32.add (local.get $s) (local.get $k))))
                  (local.set $k (i32.add (local.get $k) (i32.const 16)))
                  (br_if $digits (i32.lt_u (local.get $k) (local.get $len))))
                (local.set $o (i32.add (local.get $o) (local.get $len))))
              (else
                (i32.store (local.get $o) (i32.const 0x6c6c756e))
                (local.set $o (i32.add (local.get $o) (i32.const 4))))))
          (else
            ;; "
            (i32.store8 (local.get $o) (i32.const 0x22))
            (local.set $o (i32.add (local.get $o) (i32.const 1)))))
        ;; The item's catalog fields (SPANS: its entry's record), then }
        (if (global.get $cat)
          (then
            (local.set $s (i32.load offset=0x570000 (i32.shl (local.get $i) (i32.const 3))))
            (local.set $len (i32.load offset=0x570004 (i32.shl (local.get $i) (i32.const 3))))
            (if (i32.lt_u (local.get $s) (local.get $len))
              (then (local.set $o (call $copy (local.get $o) (local.get $s) (local.get $len)))))))
        (i32.store8 (local.get $o) (i32.const 125))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $item)))
    ;; ]}\n
    (i32.store (local.get $o) (i32.const 0x0a7d5d))
    (i32.add (local.get $o) (i32.const 3)))
  ;; The line s..e (its shape accepted, `count` ids exported) at o when OUT
  ;; has room for its bound: the new end; -1 when it has not; -2 when the
  ;; users join drops it, -3 when --since does (each asked only once there
  ;; is room: the ask counts, and marks the key seen).
  (func $emit (param $o i32) (param $s i32) (param $e i32) (param $count i32) (result i32)
    (local $bound i32)
    (local $k i32)
    (local.set $bound (i32.add (i32.shl (i32.sub (local.get $e) (local.get $s)) (i32.const 1)) (i32.const 64)))
    (if (i32.eq (global.get $fmt) (i32.const 2))
      (then
        (if (i32.gt_u
              (i32.add
                (i32.add (local.get $bound) (i32.mul (local.get $count) (i32.const 48)))
                (i32.add (i32.add (local.get $o) (global.get $userMax)) (global.get $catBound)))
              (i32.const 0x550000))
          (then (return (i32.const -1))))
        (local.set $k (call $ask (local.get $count)))
        (if (i32.ne (local.get $k) (i32.const 1)) (then (return (i32.add (i32.const -2) (local.get $k)))))
        (local.set $k (call $jsonl (local.get $o) (local.get $count)))
        (call $cacheInsert (local.get $count))
        (return (local.get $k))))
    (global.set $klen (i32.sub (call $cell (i32.const 0x130000) (global.get $keyS) (global.get $keyE)) (i32.const 0x130000)))
    (if (i32.eqz (global.get $fmt))
      (then
        (if (i32.gt_u
              (i32.add
                (i32.add
                  (local.get $bound)
                  (i32.mul (local.get $count) (i32.add (i32.add (global.get $klen) (i32.const 24)) (global.get $userMax))))
                (i32.add (local.get $o) (global.get $catBound)))
              (i32.const 0x550000))
          (then (return (i32.const -1))))
        (local.set $k (call $ask (local.get $count)))
        (if (i32.ne (local.get $k) (i32.const 1)) (then (return (i32.add (i32.const -2) (local.get $k)))))
        (local.set $k (call $long (local.get $o) (local.get $count)))
        (call $cacheInsert (local.get $count))
        (return (local.get $k))))
    (if (i32.gt_u
          (i32.add
            (i32.add (i32.add (local.get $bound) (global.get $klen)) (i32.shl (global.get $width) (i32.const 3)))
            (i32.add (i32.add (local.get $o) (global.get $userMax)) (global.get $catBound)))
          (i32.const 0x550000))
      (then (return (i32.const -1))))
    (local.set $k (call $ask (local.get $count)))
        (if (i32.ne (local.get $k) (i32.const 1)) (then (return (i32.add (i32.const -2) (local.get $k)))))
    (local.set $k (call $wide (local.get $o) (local.get $count)))
    (call $cacheInsert (local.get $count))
    (local.get $k))
  ;; --since: -1 when it drops the line. A users join: the line's user cells
  ;; to USER (ulen); 0 when the line is dropped. 1 without either.
  (func $ask (param $count i32) (result i32)
    (local $n i32)
    (global.set $ulen (i32.const 0))
    (if (global.get $since)
      (then (if (i32.eqz (call $keepLine (local.get $count))) (then (return (i32.const -1))))))
    (if (i32.eqz (global.get $join))
      (then
        (call $catalogCells (local.get $count))
        (return (i32.const 1))))
    (local.set $n
      (call $user
        (global.get $keyS)
        (global.get $keyE)
        (call $hash (global.get $keyS) (global.get $keyE))
        (local.get $count)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const 0))))
    (global.set $ulen (local.get $n))
    (call $catalogCells (local.get $count))
    (i32.const 1))
  ;; The line's ids' catalog cells: csv-wide's block from `items`; else each
  ;; id's entry from CACHE (the rest from `items`), its record to SPANS, its
  ;; flags counted.
  (func $catalogCells (param $count i32)
    (local $i i32)
    (local $at i32)
    (local $s i32)
    (local $len i32)
    (local $h i32)
    (local $set i32)
    (local $m i32)
    (local $entry i32)
    (local $missed i32)
    (local $touch i32)
    (if (i32.eqz (global.get $cat)) (then (return)))
    (block $done
      (loop $id
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $at (i32.shl (local.get $i) (i32.const 3)))
        (i32.store offset=0x580000 (i32.shl (local.get $i) (i32.const 2))
          (call $hash (i32.load offset=0x110000 (local.get $at)) (i32.load offset=0x110004 (local.get $at))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $id)))
    ;; Each id's set's tags (a small array: few misses), the way whose tag is
    ;; the hash's, and that entry's first word read with nothing decided on
    ;; it: the entries' cache misses (most of a probe's time) run side by side.
    (local.set $i (i32.const 0))
    (block $done
      (loop $id
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $h (i32.load offset=0x580000 (i32.shl (local.get $i) (i32.const 2))))
        (local.set $set (i32.and (local.get $h) (global.get $catMask)))
        (local.set $m
          (i8x16.bitmask
            (i32x4.eq
              (v128.load offset=0x6a0000 (i32.shl (local.get $set) (i32.const 4)))
              (i32x4.splat (i32.or (local.get $h) (i32.const 1))))))
        (local.set $entry (i32.const 0))
        (if (local.get $m)
          (then
            (local.set $entry
              (i32.add (global.get $dataBase)
                (i32.shl
                  (i32.add (i32.shl (local.get $set) (i32.const 2)) (i32.shr_u (i32.ctz (local.get $m)) (i32.const 2)))
                  (global.get $slotShift))))
            (local.set $touch (i32.xor (local.get $touch) (i32.load (local.get $entry))))))
        (i32.store offset=0x588000 (i32.shl (local.get $i) (i32.const 2)) (local.get $entry))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $id)))
    ;; (kept, so that no engine drops the loads)
    (global.set $touched (local.get $touch))
    (local.set $i (i32.const 0))
    (block $done
      (loop $id
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $entry (i32.load offset=0x588000 (i32.shl (local.get $i) (i32.const 2))))
        (if (local.get $entry)
          (then
            (local.set $at (i32.shl (local.get $i) (i32.const 3)))
            (local.set $s (i32.load offset=0x110000 (local.get $at)))
            (if (i32.eqz
                  (call $holds
                    (local.get $entry)
                    (i32.load offset=0x580000 (i32.shl (local.get $i) (i32.const 2)))
                    (local.get $s)
                    (i32.sub (i32.load offset=0x110004 (local.get $at)) (local.get $s))))
              (then (i32.store offset=0x588000 (i32.shl (local.get $i) (i32.const 2)) (i32.const 0))))))
        (local.set $missed
          (i32.or (local.get $missed) (i32.eqz (i32.load offset=0x588000 (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $id)))
    (if (local.get $missed) (then (drop (call $items (local.get $count)))))
    (local.set $i (i32.const 0))
    (block $done
      (loop $id
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $entry (i32.load offset=0x588000 (i32.shl (local.get $i) (i32.const 2))))
        (local.set $at (i32.shl (local.get $i) (i32.const 3)))
        (i32.store offset=0x570000 (local.get $at) (i32.add (local.get $entry) (i32.const 12)))
        (i32.store offset=0x570004 (local.get $at)
          (i32.add (i32.add (local.get $entry) (i32.const 12)) (i32.load offset=4 (local.get $entry))))
        (global.set $catMissing
          (i32.add (global.get $catMissing) (i32.shr_u (i32.load8_u offset=10 (local.get $entry)) (i32.const 1))))
        (global.set $catCut (i32.add (global.get $catCut) (i32.load8_u offset=11 (local.get $entry))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $id))))
  ;; Whether the entry at e is the key s[0, len)'s (hash h): valid, the same length and bytes.
  (func $holds (param $e i32) (param $h i32) (param $s i32) (param $len i32) (result i32)
    (if (i32.ne (i32.load (local.get $e)) (local.get $h)) (then (return (i32.const 0))))
    (if (i32.ne (i32.load16_u offset=8 (local.get $e)) (local.get $len)) (then (return (i32.const 0))))
    (if (i32.eqz (i32.load8_u offset=10 (local.get $e))) (then (return (i32.const 0))))
    (call $sameKey
      (i32.add (i32.add (i32.add (local.get $e) (i32.const 12)) (i32.load offset=4 (local.get $e))) (global.get $colBytes))
      (local.get $s)
      (local.get $len)))
  ;; The line's entries `items` wrote to CAT into CACHE, now that its rows are
  ;; written (no entry of the line moves while it is read): each one short
  ;; enough to the way of its set whose tag is its hash's (an id twice in a
  ;; line, or an entry left by a key of the same hash), else an empty way,
  ;; else the way a counter picks (evicted: the items are read in no order a
  ;; better rule could use).
  (func $cacheInsert (param $count i32)
    (local $i i32)
    (local $e i32)
    (local $size i32)
    (local $set i32)
    (local $tags v128)
    (local $tag i32)
    (local $m i32)
    (local $way i32)
    (if (i32.eqz (global.get $cat)) (then (return)))
    (block $done
      (loop $id
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $e (i32.load offset=0x588000 (i32.shl (local.get $i) (i32.const 2))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $id (i32.lt_u (local.get $e) (i32.const 0x590000)))
        (br_if $id (i32.ge_u (local.get $e) (i32.const 0x6a0000)))
        (local.set $size
          (i32.add
            (i32.add (i32.add (i32.const 12) (i32.load offset=4 (local.get $e))) (i32.load16_u offset=8 (local.get $e)))
            (global.get $colBytes)))
        (br_if $id (i32.gt_u (local.get $size) (i32.shl (i32.const 1) (global.get $slotShift))))
        (local.set $set (i32.and (i32.load (local.get $e)) (global.get $catMask)))
        (local.set $tag (i32.or (i32.load (local.get $e)) (i32.const 1)))
        (local.set $tags (v128.load offset=0x6a0000 (i32.shl (local.get $set) (i32.const 4))))
        (local.set $m (i8x16.bitmask (i32x4.eq (local.get $tags) (i32x4.splat (local.get $tag)))))
        (if (i32.eqz (local.get $m))
          (then (local.set $m (i8x16.bitmask (i32x4.eq (local.get $tags) (i32x4.splat (i32.const 0)))))))
        (if (local.get $m)
          (then (local.set $way (i32.shr_u (i32.ctz (local.get $m)) (i32.const 2))))
          (else
            (global.set $victim (i32.add (global.get $victim) (i32.const 1)))
            (local.set $way (i32.and (global.get $victim) (i32.const 3)))))
        (i32.store offset=0x6a0000
          (i32.add (i32.shl (local.get $set) (i32.const 4)) (i32.shl (local.get $way) (i32.const 2)))
          (local.get $tag))
        (drop
          (call $copy
            (i32.add (global.get $dataBase)
              (i32.shl (i32.add (i32.shl (local.get $set) (i32.const 2)) (local.get $way)) (global.get $slotShift)))
            (local.get $e)
            (i32.add (local.get $e) (local.get $size))))
        (br $id))))
  ;; Whether a[0, len) and b[0, len) hold the same bytes (16 at a time; reads up to 15 past).
  (func $sameKey (param $a i32) (param $b i32) (param $len i32) (result i32)
    (local $m i32)
    (loop $chunk
      (if (i32.le_s (local.get $len) (i32.const 0)) (then (return (i32.const 1))))
      (local.set $m (i8x16.bitmask (i8x16.eq (v128.load (local.get $a)) (v128.load (local.get $b)))))
      (if (i32.lt_u (local.get $len) (i32.const 16))
        (then
          (return
            (i32.eq
              (i32.and (local.get $m) (i32.sub (i32.shl (i32.const 1) (local.get $len)) (i32.const 1)))
              (i32.sub (i32.shl (i32.const 1) (local.get $len)) (i32.const 1))))))
      (if (i32.ne (local.get $m) (i32.const 0xffff)) (then (return (i32.const 0))))
      (local.set $a (i32.add (local.get $a) (i32.const 16)))
      (local.set $b (i32.add (local.get $b) (i32.const 16)))
      (local.set $len (i32.sub (local.get $len) (i32.const 16)))
      (br $chunk))
    (i32.const 0))
  (func (export "rows") (param $len i32) (param $atEnd i32) (param $from i32) (result i32)
    (local $s i32)
    (local $q i32)
    (local $c i32)
    (local $e i32)
    (local $next i32)
    (local $o i32)
    (local $r i32)
    (local $count i32)
    (local $lines i32)
    (local $rows i32)
    (local $scored i32)
    (local $widest i32)
    (local $why i32)
    (local $skipped i32)
    (local.set $s (local.get $from))
    (local.set $o (i32.const 0x150000))
    (global.set $catMissing (i32.const 0))
    (global.set $catCut (i32.const 0))
    (block $stop
      (loop $line
        (local.set $why (i32.const 1))
        (br_if $stop (i32.ge_u (local.get $s) (local.get $len)))
        (local.set $why (i32.const 0))
        (if (i32.eq (global.get $passMode) (i32.const 2))
          (then
            (if (call $otherGroup (local.get $s) (local.get $len))
              (then
                (local.set $next (call $nextLine (local.get $s) (local.get $len)))
                (if (i32.lt_s (local.get $next) (i32.const 0))
                  (then
                    ;; No line end in the window: the piece's last line, or one the window cuts.
                    (local.set $why (i32.const 1))
                    (br_if $stop (i32.eqz (local.get $atEnd)))
                    (local.set $next (local.get $len))))
                (local.set $s (local.get $next))
                (br $line)))))
        (local.set $q (call $scan (local.get $s)))
        (br_if $stop (i32.lt_s (local.get $q) (i32.const 0)))
        ;; The shape must end where the line does: LF, CRLF, or the piece's end (a CR before it dropped).
        (local.set $c (i32.load8_u (local.get $q)))
        (local.set $e (local.get $q))
        (if (i32.eq (local.get $c) (i32.const 10))
          (then (local.set $next (i32.add (local.get $q) (i32.const 1))))
          (else
            (if (i32.eq (local.get $c) (i32.const 13))
              (then (local.set $q (i32.add (local.get $q) (i32.const 1)))))
            (if (i32.lt_u (local.get $q) (local.get $len))
              (then
                ;; (c is CR here: any other byte is the one at q, not LF)
                (br_if $stop (i32.ne (i32.load8_u (local.get $q)) (i32.const 10)))
                (local.set $next (i32.add (local.get $q) (i32.const 1))))
              (else
                ;; The window's end: the line may go on past it unless the piece ends there.
                (local.set $why (i32.const 1))
                (br_if $stop (i32.eqz (local.get $atEnd)))
                (local.set $why (i32.const 0))
                (local.set $next (local.get $len))))))
        (br_if $stop (i32.gt_u (i32.sub (local.get $e) (local.get $s)) (global.get $maxLine)))
        (br_if $stop (i32.ne (global.get $field) (global.get $keyField)))
        (br_if $stop (i32.and (global.get $hasScores) (i32.eqz (global.get $scoresOk))))
        (local.set $count (global.get $nIds))
        (if (i32.and (i32.ne (global.get $top) (i32.const 0)) (i32.gt_u (local.get $count) (global.get $top)))
          (then (local.set $count (global.get $top))))
        (br_if $stop (i32.and (i32.eq (global.get $fmt) (i32.const 1)) (i32.gt_u (local.get $count) (global.get $width))))
        (if (global.get $cat)
          (then
            (br_if $stop (i64.gt_u (call $catBound (local.get $count)) (i64.const 0xfffc0)))
            (global.set $catBound (i32.wrap_i64 (call $catBound (local.get $count))))))
        ;; Another group's line (a users join on disk): counted, converted in its own pass.
        (if (global.get $passMode)
          (then
            (if (i32.ne (call $groupOf (call $hash (global.get $keyS) (global.get $keyE))) (global.get $group))
              (then
                (local.set $skipped (i32.add (local.get $skipped) (i32.const 1)))
                (local.set $s (local.get $next))
                (br $line)))))
        (global.set $lineS (local.get $s))
        (global.set $lineNext (local.get $next))
        (local.set $r (call $emit (local.get $o) (local.get $s) (local.get $e) (local.get $count)))
        ;; Dropped by --since: no line of the piece as the export sees it.
        (if (i32.eq (local.get $r) (i32.const -3))
          (then
            (local.set $s (local.get $next))
            (br $line)))
        (if (i32.eq (local.get $r) (i32.const -2))
          (then
            (local.set $skipped (i32.add (local.get $skipped) (i32.const 1)))
            (local.set $s (local.get $next))
            (br $line)))
        (if (i32.lt_s (local.get $r) (i32.const 0))
          (then
            ;; No room: a line too big for an empty OUT goes to JavaScript.
            (local.set $why (select (i32.const 0) (i32.const 2) (i32.eq (local.get $o) (i32.const 0x150000))))
            (br $stop)))
        (local.set $o (local.get $r))
        (local.set $lines (i32.add (local.get $lines) (i32.const 1)))
        (local.set $rows
          (i32.add (local.get $rows) (select (local.get $count) (i32.const 1) (i32.eqz (global.get $fmt)))))
        (local.set $scored (i32.add (local.get $scored) (global.get $hasScores)))
        (if (i32.gt_u (local.get $count) (local.get $widest)) (then (local.set $widest (local.get $count))))
        (local.set $s (local.get $next))
        (br $line)))
    (i32.store (i32.const 0x141000) (i32.sub (local.get $o) (i32.const 0x150000)))
    (i32.store (i32.const 0x141004) (local.get $lines))
    (i32.store (i32.const 0x141008) (local.get $rows))
    (i32.store (i32.const 0x14100c) (local.get $scored))
    (i32.store (i32.const 0x141010) (local.get $widest))
    (i32.store (i32.const 0x141014) (local.get $why))
    (i32.store (i32.const 0x141018) (local.get $skipped))
    (i32.store (i32.const 0x14101c) (global.get $catMissing))
    (i32.store (i32.const 0x141020) (global.get $catCut))
    (local.get $s)))
