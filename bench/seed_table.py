"""The seed's DynamoDB journal table (prevayler-clj-aws: one item per event,
{partkey, order, content}), shared by the boto3 baselines seed_boto3.py and
seed_replay_boto3.py."""
import boto3


def seed_client(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="bench", aws_secret_access_key="bench")


def create_seed_table(client, table):
    client.create_table(TableName=table,
                        AttributeDefinitions=[{"AttributeName": "partkey", "AttributeType": "N"},
                                              {"AttributeName": "order", "AttributeType": "N"}],
                        KeySchema=[{"AttributeName": "partkey", "KeyType": "HASH"},
                                   {"AttributeName": "order", "KeyType": "RANGE"}],
                        BillingMode="PAY_PER_REQUEST")
