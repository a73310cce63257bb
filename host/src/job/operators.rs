//! The Wasm operators of a job, wherever the job file puts them: the
//! one-chain sections and every stage of a job graph.

use super::spec::{OperatorSpec, WindowSpec};
use super::whole::JobSpec;
use std::collections::BTreeMap;

/// Names of all operators, for uniqueness checks.
pub(crate) fn operator_names(spec: &JobSpec) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    let mut functions = std::collections::BTreeSet::new();
    for (at, op) in spec.wasm_operators() {
        // A SQL function that several stages of one query call (before and
        // after an aggregation) is one function: the same spec in each,
        // and a swap of it replaces it in all of them.
        if at.contains(".sql.functions[")
            && !functions.insert(serde_json::to_string(op).unwrap_or_default())
        {
            continue;
        }
        *names.entry(op.name.clone()).or_insert(0) += 1;
    }
    names
}

impl JobSpec {
    /// Every Wasm operator of the job with where it is written
    /// (`operators[0]`, `keyed`, `window.aggregate`, `stages[1].operators[0]`).
    pub fn wasm_operators(&self) -> Vec<(String, &OperatorSpec)> {
        fn add<'a>(
            out: &mut Vec<(String, &'a OperatorSpec)>,
            prefix: &str,
            ops: &'a [OperatorSpec],
            keyed: Option<&'a OperatorSpec>,
            window: Option<&'a WindowSpec>,
        ) {
            for (i, op) in ops.iter().enumerate() {
                out.push((format!("{prefix}operators[{i}]"), op));
            }
            if let Some(k) = keyed {
                out.push((format!("{prefix}keyed"), k));
            }
            if let Some(a) = window.and_then(|w| w.aggregate.as_ref()) {
                out.push((format!("{prefix}window.aggregate"), a));
            }
        }
        let mut out = Vec::new();
        add(
            &mut out,
            "",
            &self.operators,
            self.keyed.as_ref(),
            self.window.as_ref(),
        );
        for (i, s) in self.stages.iter().enumerate() {
            let prefix = format!("stages[{i}].");
            add(
                &mut out,
                &prefix,
                &s.operators,
                s.keyed.as_ref(),
                s.window.as_ref(),
            );
            for (j, f) in s.sql.iter().flat_map(|q| &q.functions).enumerate() {
                out.push((format!("{prefix}sql.functions[{j}]"), f));
            }
        }
        out
    }

    /// Every Wasm operator of the job, mutable (admission rewrites their
    /// component paths).
    pub fn wasm_operators_mut(&mut self) -> Vec<&mut OperatorSpec> {
        let mut out: Vec<&mut OperatorSpec> = self.operators.iter_mut().collect();
        out.extend(self.keyed.as_mut());
        out.extend(self.window.as_mut().and_then(|w| w.aggregate.as_mut()));
        for s in &mut self.stages {
            out.extend(s.operators.iter_mut());
            out.extend(s.keyed.as_mut());
            out.extend(s.window.as_mut().and_then(|w| w.aggregate.as_mut()));
            out.extend(s.sql.iter_mut().flat_map(|q| q.functions.iter_mut()));
        }
        out
    }
}
