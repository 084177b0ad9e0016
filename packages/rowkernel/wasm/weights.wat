;; The weight generator of SPEC.md §3 in WebAssembly SIMD, laid out for a GEMM (as
;; src/weights.ts `generateWeights`): W[i][j] = element(key, j, i), row-major.
;; Four generator rows j are hashed per i32x4 lane group, sixteen per step; the words are then
;; transposed byte-wise so each output row i gets sixteen consecutive bytes per store.
;; Compiled to weights.wasm by scripts/build-wasm.ts; a test checks the two agree.
(module
  (memory (export "memory") 1)

  (func $fmix (param $h i32) (result i32)
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0x85ebca6b)))
    (local.set $h (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32.mul (local.get $h) (i32.const 0xc2b2ae35)))
    (i32.xor (local.get $h) (i32.shr_u (local.get $h) (i32.const 16))))

  (func $fmix4 (param $h v128) (result v128)
    (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))
    (local.set $h (i32x4.mul (local.get $h) (i32x4.splat (i32.const 0x85ebca6b))))
    (local.set $h (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 13))))
    (local.set $h (i32x4.mul (local.get $h) (i32x4.splat (i32.const 0xc2b2ae35))))
    (v128.xor (local.get $h) (i32x4.shr_u (local.get $h) (i32.const 16))))

  ;; first[j] = fmix(k0 ^ j) for j < width, as i32 at $first: the part of a word that depends
  ;; on the generator row only.
  (func (export "firstRound") (param $k0 i32) (param $width i32) (param $first i32)
    (local $j i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $width)))
        (i32.store (i32.add (local.get $first) (i32.shl (local.get $j) (i32.const 2)))
          (call $fmix (i32.xor (local.get $k0) (local.get $j))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $next))))

  ;; Output rows 4·w0 … 4·w1 − 1 (those below $depth) of W, $width bytes apart, contiguous at
  ;; $out: columns 0 … $cols − 1 only ($cols a multiple of 16; the caller does the rest).
  ;; $first must hold firstRound's table.
  (func (export "rows")
    (param $k1 i32) (param $k2 i32) (param $k3 i32)
    (param $depth i32) (param $width i32) (param $cols i32) (param $w0 i32) (param $w1 i32)
    (param $first i32) (param $out i32)
    (local $w i32) (local $j i32) (local $live i32) (local $row i32) (local $at i32)
    (local $mix v128) (local $k2v v128) (local $k3v v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $k2v (i32x4.splat (local.get $k2)))
    (local.set $k3v (i32x4.splat (local.get $k3)))
    (local.set $w (local.get $w0))
    (local.set $row (local.get $out))
    (block $words_done
      (loop $words
        (br_if $words_done (i32.ge_u (local.get $w) (local.get $w1)))
        (local.set $mix (i32x4.splat (i32.xor (local.get $k1) (local.get $w))))
        (local.set $live (i32.sub (local.get $depth) (i32.shl (local.get $w) (i32.const 2))))
        (if (i32.gt_s (local.get $live) (i32.const 4)) (then (local.set $live (i32.const 4))))
        (local.set $j (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $j) (local.get $cols)))
            (local.set $at (i32.add (local.get $first) (i32.shl (local.get $j) (i32.const 2))))
            ;; sixteen words: generator rows j … j+15
            (local.set $x0 (v128.xor (call $fmix4 (i32x4.add (call $fmix4 (v128.xor (v128.load offset=0 (local.get $at)) (local.get $mix))) (local.get $k2v))) (local.get $k3v)))
            (local.set $x1 (v128.xor (call $fmix4 (i32x4.add (call $fmix4 (v128.xor (v128.load offset=16 (local.get $at)) (local.get $mix))) (local.get $k2v))) (local.get $k3v)))
            (local.set $x2 (v128.xor (call $fmix4 (i32x4.add (call $fmix4 (v128.xor (v128.load offset=32 (local.get $at)) (local.get $mix))) (local.get $k2v))) (local.get $k3v)))
            (local.set $x3 (v128.xor (call $fmix4 (i32x4.add (call $fmix4 (v128.xor (v128.load offset=48 (local.get $at)) (local.get $mix))) (local.get $k2v))) (local.get $k3v)))
            ;; within each vector, group bytes by their position in the word: lane b = byte b of 4 words
            (local.set $x0 (i8x16.shuffle 0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15 (local.get $x0) (local.get $x0)))
            (local.set $x1 (i8x16.shuffle 0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15 (local.get $x1) (local.get $x1)))
            (local.set $x2 (i8x16.shuffle 0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15 (local.get $x2) (local.get $x2)))
            (local.set $x3 (i8x16.shuffle 0 4 8 12 1 5 9 13 2 6 10 14 3 7 11 15 (local.get $x3) (local.get $x3)))
            ;; 4×4 transpose of i32 lanes: output row b = lane b of x0, x1, x2, x3
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x0) (local.get $x1)))
            (local.set $t1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x2) (local.get $x3)))
            (local.set $t2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x0) (local.get $x1)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x2) (local.get $x3)))
            (local.set $at (i32.add (local.get $row) (local.get $j)))
            (v128.store (local.get $at)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t1)))
            (if (i32.gt_s (local.get $live) (i32.const 1)) (then
              (v128.store (i32.add (local.get $at) (local.get $width))
                (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t1)))))
            (if (i32.gt_s (local.get $live) (i32.const 2)) (then
              (v128.store (i32.add (local.get $at) (i32.shl (local.get $width) (i32.const 1)))
                (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t2) (local.get $t3)))))
            (if (i32.gt_s (local.get $live) (i32.const 3)) (then
              (v128.store (i32.add (local.get $at) (i32.mul (local.get $width) (i32.const 3)))
                (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t2) (local.get $t3)))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $cols)))
        (local.set $row (i32.add (local.get $row) (i32.mul (local.get $live) (local.get $width))))
        (local.set $w (i32.add (local.get $w) (i32.const 1)))
        (br $words))))
)
