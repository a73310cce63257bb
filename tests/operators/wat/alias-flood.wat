;; world: transform
(module
  ;; common
  (func (export "weir:dataflow/transformer@0.1.0#init") (param i32 i32) (result i32)
    (call $ok))
  ;; 100,000 events at 2 MiB, 40 bytes each, every value the same 1 MiB at 64 KiB.
  (func (export "weir:dataflow/transformer@0.1.0#process") (param i32 i32) (result i32)
    (local $i i32) (local $p i32)
    (local.set $p (i32.const 0x200000))
    (loop $fill
      (i32.store8 (local.get $p) (i32.const 0))                      ;; key: none
      (i32.store offset=12 (local.get $p) (i32.const 0x10000))      ;; value ptr
      (i32.store offset=16 (local.get $p) (i32.const 0x100000))     ;; value len: 1 MiB
      (i64.store offset=24 (local.get $p) (i64.const 0))            ;; timestamp
      (i32.store offset=32 (local.get $p) (i32.const 0))            ;; headers ptr
      (i32.store offset=36 (local.get $p) (i32.const 0))            ;; headers len
      (local.set $p (i32.add (local.get $p) (i32.const 40)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 100000))))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 0x200000))
    (i32.store (i32.const 72) (i32.const 100000))
    (i32.store (i32.const 76) (i32.const 0))
    (i32.store (i32.const 80) (i32.const 0))
    (i32.const 64)))
