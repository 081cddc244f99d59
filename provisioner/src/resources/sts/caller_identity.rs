//! Data source `caller_identity`: who the provisioner runs as — one STS GetCallerIdentity call. `id` is the
//! account id, as in Terraform.

use std::sync::LazyLock;

use async_trait::async_trait;

use crate::aws::{aws_err, Ctx, ProviderError};
use crate::resource::DataSource;
use crate::schema::{Attribute, Schema};
use crate::value::{Attrs, Value};

pub struct CallerIdentity;

static SCHEMA: LazyLock<Schema> = LazyLock::new(|| {
    Schema::new("caller_identity", "The identity (account, ARN, user id) the provisioner's credentials resolve to.")
        .attr(Attribute::string("account_id").computed().describe("The AWS account id."))
        .attr(Attribute::string("arn").computed().describe("ARN of the calling user or assumed role."))
        .attr(Attribute::string("user_id").computed().describe("Unique id of the caller."))
});

/// The STS client, built on first use.
fn sts(cx: &Ctx) -> aws_sdk_sts::Client {
    cx.client(|sdk, calls| {
        aws_sdk_sts::Client::from_conf(aws_sdk_sts::config::Builder::from(sdk).interceptor(calls).build())
    })
}

#[async_trait]
impl DataSource for CallerIdentity {
    fn schema(&self) -> &Schema {
        &SCHEMA
    }

    async fn read(&self, cx: &Ctx, args: &Attrs) -> Result<Attrs, ProviderError> {
        let out = sts(cx).get_caller_identity().send().await.map_err(aws_err)?;
        let account = out.account().unwrap_or_default();
        let mut a = args.clone();
        a.insert("id".into(), Value::str(account));
        a.insert("account_id".into(), Value::str(account));
        a.insert("arn".into(), Value::str(out.arn().unwrap_or_default()));
        a.insert("user_id".into(), Value::str(out.user_id().unwrap_or_default()));
        Ok(a)
    }
}
