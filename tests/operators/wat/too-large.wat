;; world: transform
(module
  ;; common
  (func (export "weir:dataflow/transformer@0.1.0#init") (param i32 i32) (result i32)
    (call $ok))
  ;; One event at 256 whose value is the 12 MiB from 1 MiB on.
  (func (export "weir:dataflow/transformer@0.1.0#process") (param i32 i32) (result i32)
    (i32.store8 (i32.const 256) (i32.const 0))
    (i32.store (i32.const 268) (i32.const 0x100000))
    (i32.store (i32.const 272) (i32.const 0xC00000))
    (i64.store (i32.const 280) (i64.const 0))
    (i32.store (i32.const 288) (i32.const 0))
    (i32.store (i32.const 292) (i32.const 0))
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 256))
    (i32.store (i32.const 72) (i32.const 1))
    (i32.store (i32.const 76) (i32.const 0))
    (i32.store (i32.const 80) (i32.const 0))
    (i32.const 64)))
