;; world: keyed
(module
  (import "weir:dataflow/state@0.1.0" "[constructor]value-state" (func $new (param i32 i32) (result i32)))
  (import "weir:dataflow/state@0.1.0" "[method]value-state.get" (func $get (param i32 i32)))
  ;; common
  (data (i32.const 200) "n")
  (func (export "weir:dataflow/keyed-processor@0.1.0#init") (param i32 i32) (result i32)
    (call $ok))
  ;; Read value state "n" with no key selected.
  (func (export "weir:dataflow/keyed-processor@0.1.0#process") (param i32 i32) (result i32)
    (call $get (call $new (i32.const 200) (i32.const 1)) (i32.const 300))
    (unreachable))
  (func (export "weir:dataflow/keyed-processor@0.1.0#on-timer") (param i32 i32) (result i32)
    (unreachable)))
