//! The order of a job graph's stages: each after its inputs.

use super::stages::StageSpec;
use std::collections::BTreeMap;

/// The stages in an order where every stage comes after its inputs, or
/// the names of stages on a cycle.
pub fn topological_order(stages: &[StageSpec]) -> Result<Vec<usize>, Vec<String>> {
    let index: BTreeMap<&str, usize> = stages
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut order = Vec::with_capacity(stages.len());
    let mut placed = vec![false; stages.len()];
    while order.len() < stages.len() {
        let before = order.len();
        for (i, s) in stages.iter().enumerate() {
            if placed[i] {
                continue;
            }
            let ready = s.input_names().iter().all(|n| match index.get(n) {
                Some(&j) => placed[j],
                None => true, // `source`, or unknown (reported elsewhere)
            });
            if ready {
                placed[i] = true;
                order.push(i);
            }
        }
        if order.len() == before {
            return Err(stages
                .iter()
                .zip(&placed)
                .filter(|(_, p)| !**p)
                .map(|(s, _)| s.name.clone())
                .collect());
        }
    }
    Ok(order)
}
