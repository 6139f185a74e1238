"""Call the scenario's embedded cloud with boto3: verify steps read state back, side effects change it out of band.

    aws_api.py PORT SERVICE OPERATION [JSON_PARAMS]   prints the response as JSON (datetimes as strings)

Only the loopback endpoint of the scenario's cloud, with the dummy credentials it understands."""

import json
import sys

import boto3

port, service, operation = sys.argv[1:4]
params = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
client = boto3.client(
    service,
    region_name="eu-west-3",
    endpoint_url=f"http://127.0.0.1:{int(port)}",
    aws_access_key_id="testing",
    aws_secret_access_key="testing",  # noqa: S106 - the embedded cloud's dummy key
)
response = getattr(client, operation)(**params)
response.pop("ResponseMetadata", None)
print(json.dumps(response, default=str))
