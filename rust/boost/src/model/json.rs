//! sapwood's model JSON: [`Booster::to_json`], [`Booster::from_json`] (which validates what it
//! reads), and the description of a document that does not fit the schema. Touches text and
//! the model only.

use std::collections::BTreeMap;

use crate::error::BoostError;
use crate::model::Booster;
use crate::objective::Objective;

impl Booster {
    /// Serialises to sapwood's JSON.
    ///
    /// # Errors
    /// [`BoostError::InvalidModel`] if serialisation fails.
    pub fn to_json(&self) -> Result<String, BoostError> {
        serde_json::to_string(self).map_err(|e| BoostError::InvalidModel(e.to_string()))
    }

    /// Reads sapwood's JSON and validates it. Fields this schema does not know (the
    /// estimator block the Python package adds) are skipped.
    ///
    /// # Errors
    /// [`BoostError::InvalidModel`] for malformed or inconsistent input, naming the field.
    pub fn from_json(text: &str) -> Result<Self, BoostError> {
        let model: Self = serde_json::from_str(text)
            .map_err(|e| BoostError::InvalidModel(describe_json_error(text, &e)))?;
        model.validate()?;
        Ok(model)
    }
}

/// Says where in a model document a parse error is. serde_json reports a value of the wrong
/// type or range by line and column only, which points nowhere useful in a one-line file;
/// this re-reads the document loosely (only after a failure, so loading stays one pass) and
/// names the first field that does not fit the schema.
fn describe_json_error(text: &str, err: &serde_json::Error) -> String {
    if !err.is_data() {
        return format!("not valid JSON: {err}");
    }
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(text) else {
        return err.to_string();
    };
    first_bad_field(&doc).unwrap_or_else(|| err.to_string())
}

/// The first field of a loosely parsed model document whose value does not deserialise, as
/// `"path: reason"`; `None` when each field on its own is fine.
fn first_bad_field(doc: &serde_json::Value) -> Option<String> {
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    type Check = fn(&Value) -> Result<(), (String, String)>;
    fn one<T: DeserializeOwned>(v: &Value) -> Result<(), (String, String)> {
        T::deserialize(v)
            .map(drop)
            .map_err(|e| (String::new(), e.to_string()))
    }
    fn each<T: DeserializeOwned>(v: &Value) -> Result<(), (String, String)> {
        let Value::Array(items) = v else {
            return one::<Vec<T>>(v);
        };
        items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| one::<T>(item).map_err(|(_, e)| (format!("[{i}]"), e)))
    }
    let Value::Object(obj) = doc else {
        return Some("the document is not a JSON object".into());
    };
    let top: [(&str, Check); 11] = [
        ("format", one::<String>),
        ("version", one::<u32>),
        ("objective", one::<Objective>),
        ("num_class", one::<usize>),
        ("num_feature", one::<usize>),
        ("base_score", each::<f32>),
        ("tree_info", each::<u32>),
        ("num_parallel_tree", one::<usize>),
        ("objective_max_delta_step", one::<f32>),
        ("scale_pos_weight", one::<f32>),
        ("attributes", one::<BTreeMap<String, String>>),
    ];
    let tree_fields: [(&str, Check); 9] = [
        ("left", each::<i32>),
        ("right", each::<i32>),
        ("parent", each::<i32>),
        ("split_index", each::<u32>),
        ("split_cond", each::<f32>),
        ("default_left", each::<bool>),
        ("base_weight", each::<f32>),
        ("loss_chg", each::<f32>),
        ("sum_hess", each::<f32>),
    ];
    for (name, check) in &top {
        if let Some(v) = obj.get(*name) {
            if let Err((at, e)) = check(v) {
                return Some(format!("{name}{at}: {e}"));
            }
        }
    }
    let trees = obj.get("trees")?;
    let Value::Array(trees) = trees else {
        return Some(format!(
            "trees: expected a list of trees, got {}",
            kind(trees)
        ));
    };
    for (t, tree) in trees.iter().enumerate() {
        let Value::Object(tree) = tree else {
            return Some(format!(
                "trees[{t}]: expected an object, got {}",
                kind(tree)
            ));
        };
        for (name, check) in &tree_fields {
            match tree.get(*name) {
                None => return Some(format!("trees[{t}].{name} is missing")),
                Some(v) => {
                    if let Err((at, e)) = check(v) {
                        return Some(format!("trees[{t}].{name}{at}: {e}"));
                    }
                }
            }
        }
    }
    None
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::stumps;

    fn rejection_of_text(edit: impl Fn(&mut serde_json::Value)) -> String {
        let mut doc: serde_json::Value =
            serde_json::from_str(&stumps().to_json().unwrap()).unwrap();
        edit(&mut doc);
        Booster::from_json(&doc.to_string())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn garbage_models_are_rejected() {
        assert!(Booster::from_json("{").is_err());
        assert!(Booster::from_json("{\"format\": \"x\"}").is_err());
    }

    #[test]
    fn parse_errors_name_the_field() {
        let err = rejection_of_text(|d| d["num_feature"] = serde_json::json!(1e15));
        assert!(
            err.contains("num_feature: invalid type: floating point"),
            "{err}"
        );
        let err = rejection_of_text(|d| d["trees"][1]["left"][2] = serde_json::Value::Null);
        assert!(
            err.contains("trees[1].left[2]: invalid type: null"),
            "{err}"
        );
        let err = rejection_of_text(|d| d["tree_info"][0] = serde_json::json!(-1));
        assert!(
            err.contains("tree_info[0]: invalid value: integer `-1`"),
            "{err}"
        );
        let err = rejection_of_text(|d| d["trees"][0] = serde_json::json!([]));
        assert!(
            err.contains("trees[0]: expected an object, got a list"),
            "{err}"
        );
        let err = rejection_of_text(|d| d["objective"] = serde_json::json!("reg:nope"));
        assert!(
            err.starts_with("cannot read model: objective: unknown variant"),
            "{err}"
        );
        let err = Booster::from_json("{\"format\": 1e309}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid JSON"), "{err}");
    }
}
