;; world: transform
(module
  ;; common
  (data (i32.const 160) "no such record")
  (func (export "weir:dataflow/transformer@0.1.0#init") (param i32 i32) (result i32)
    (call $ok))
  ;; result<output, operator-error> at 64: ok, no events, one rejection at 128
  (func (export "weir:dataflow/transformer@0.1.0#process") (param i32 i32) (result i32)
    (i32.store8 (i32.const 64) (i32.const 0))
    (i32.store (i32.const 68) (i32.const 0))
    (i32.store (i32.const 72) (i32.const 0))
    (i32.store (i32.const 76) (i32.const 128))
    (i32.store (i32.const 80) (i32.const 1))
    ;; rejection { index: 999999, reason: "no such record" }
    (i32.store (i32.const 128) (i32.const 999999))
    (i32.store (i32.const 132) (i32.const 160))
    (i32.store (i32.const 136) (i32.const 14))
    (i32.const 64)))
