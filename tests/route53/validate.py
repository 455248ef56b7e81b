"""Checks an export of hadns against Route 53's API model, as the AWS CLI does before it
sends a request: the change batch (ChangeResourceRecordSets), each check's config
(CreateHealthCheck) and the CIDR locations (ChangeCidrCollection).

usage: validate.py BATCH  (BATCH.health-checks.json and BATCH.cidr-collection.json
beside it are checked when they exist)"""
import json
import os
import sys

import botocore.session
from botocore.validate import ParamValidator

model = botocore.session.get_session().get_service_model("route53")


def check(operation, params):
    report = ParamValidator().validate(params, model.operation_model(operation).input_shape)
    if report.has_errors():
        sys.exit(f"{operation}: {report.generate_report()}")


batch = sys.argv[1]
with open(batch) as f:
    check("ChangeResourceRecordSets", {"HostedZoneId": "Z0EXAMPLE", "ChangeBatch": json.load(f)})
checked = 1
if os.path.exists(batch + ".health-checks.json"):
    with open(batch + ".health-checks.json") as f:
        for c in json.load(f)["HealthChecks"]:
            check("CreateHealthCheck", {"CallerReference": c["CallerReference"],
                                        "HealthCheckConfig": c["HealthCheckConfig"]})
            checked += 1
if os.path.exists(batch + ".cidr-collection.json"):
    with open(batch + ".cidr-collection.json") as f:
        check("ChangeCidrCollection", {"Id": "c8c02a84-aaaa-bbbb-cccc-0123456789ab",
                                       "Changes": json.load(f)})
        checked += 1
print(f"valid: {checked} requests")
