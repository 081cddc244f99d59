//! Data source `stack` (Terraform's `terraform_remote_state`): the outputs of another stack, read from that
//! stack's own configured backend, in one of its workspaces.
//!
//! `[data.stack.shared] dir = "../shared"` (relative to this stack's directory), `workspace` (default
//! `default`, as in Terraform). `${data.stack.shared.outputs.NAME}` is an output's value, of whatever type
//! it has. The other stack's configuration is loaded only for its backend (no variable values are needed);
//! its state is read without taking its lock, as Terraform does. A missing or empty state is an error that
//! names the stack and the workspace: plans must not silently see nothing.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use async_trait::async_trait;

use crate::aws::{Ctx, ProviderError};
use crate::resource::DataSource;
use crate::schema::{Attribute, Schema, Type};
use crate::stack::{Stack, StackOptions};
use crate::value::{Attrs, Value};

pub struct StackOutputs;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("stack", "The outputs of another stack, read from its own state (Terraform's terraform_remote_state).")
        .attr(Attribute::string("dir").required().describe("The other stack's directory, relative to this stack's."))
        .attr(Attribute::string("workspace").default("default").describe("Which of its workspaces."))
        .attr(Attribute::new("outputs", Type::map(Type::Any)).computed().describe("Its outputs by name."))
});

/// The outputs of the stack in `dir` (relative to `cx`'s stack directory), workspace `workspace`, as values;
/// its S3 backend works as `cx`'s role, if any.
pub(crate) async fn read_outputs(
    cx: &Ctx,
    dir: &str,
    workspace: &str,
) -> Result<BTreeMap<String, Value>, ProviderError> {
    let path = cx.stack_dir.join(dir);
    let opts = StackOptions {
        workspace: Some(workspace.to_owned()),
        validate_only: true,
        role: cx.role.clone(),
        ..StackOptions::state_only(&path)
    };
    let other = Stack::open(&opts).map_err(|e| {
        ProviderError::with_code("StackNotFound", format!("cannot open stack `{dir}` ({}): {e}", path.display()))
    })?;
    let name = other.engine.config.stack_name.clone();
    let state = other.backend.load().await.map_err(|e| {
        ProviderError::new(format!("reading the state of stack `{name}` ({dir}), workspace `{workspace}`: {e}"))
    })?;
    match state {
        Some(s) if !s.resources.is_empty() || !s.outputs.is_empty() => {
            Ok(s.outputs.iter().map(|(k, o)| (k.clone(), Value::from_json(&o.value))).collect())
        }
        Some(_) => Err(ProviderError::with_code(
            "StackStateEmpty",
            format!("stack `{name}` ({dir}), workspace `{workspace}`, has an empty state: apply it first"),
        )),
        None => Err(ProviderError::with_code(
            "StackStateMissing",
            format!(
                "stack `{name}` ({dir}) has no state in workspace `{workspace}`{}: apply it first",
                if workspace == "default" { "" } else { " (is the workspace name right?)" }
            ),
        )),
    }
}

#[async_trait]
impl DataSource for StackOutputs {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, args: &Attrs) -> Result<Attrs, ProviderError> {
        let dir = args.get("dir").and_then(Value::as_str).unwrap_or_default();
        let workspace = args.get("workspace").and_then(Value::as_str).unwrap_or("default");
        let outputs = read_outputs(cx, dir, workspace).await?;
        let mut out = args.clone();
        out.insert("id".into(), Value::str(format!("{dir}#{workspace}")));
        out.insert("workspace".into(), Value::str(workspace));
        out.insert("outputs".into(), Value::Map(outputs));
        Ok(out)
    }
}
