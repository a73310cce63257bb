  ;; Shared by every module: memory, a bump allocator, and an `init` that
  ;; accepts any config. Spliced in by the tests where `;; common` stands.
  (memory (export "memory") 256)
  (global $heap (mut i32) (i32.const 0x800000))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    ;; align up, bump
    (local.set $p
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get 2) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get 2))))
    (global.set $heap (i32.add (local.get $p) (local.get 3)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.const 64)))))
    (local.get $p))
  ;; result<_, operator-error>::ok at 16
  (func $ok (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.const 16))
