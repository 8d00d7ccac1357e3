"""Optional VPC for the functions: private subnets, gateway endpoints for S3 and DynamoDB.

Gateway endpoints are free and keep document and table traffic off the NAT. The query
function still needs the internet for OpenAI: one NAT gateway by default; with
`vpcNatGateways=0` the subnets are isolated and SSM (and Bedrock when it is the provider)
are reached through interface endpoints instead.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from .settings import StackSettings


class Network(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, settings: StackSettings) -> None:
        super().__init__(scope, construct_id)
        nat = settings.vpc_nat_gateways
        subnets = [ec2.SubnetConfiguration(
            name="functions", cidr_mask=22,
            subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS if nat else ec2.SubnetType.PRIVATE_ISOLATED)]
        if nat:
            subnets.insert(0, ec2.SubnetConfiguration(name="public", cidr_mask=24,
                                                      subnet_type=ec2.SubnetType.PUBLIC))
        self.vpc = ec2.Vpc(
            self, "Vpc", vpc_name="rag-assistant", max_azs=2, nat_gateways=nat,
            subnet_configuration=subnets,
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3),
                "DynamoDB": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.DYNAMODB),
            },
            flow_logs={"FlowLogs": ec2.FlowLogOptions(traffic_type=ec2.FlowLogTrafficType.REJECT)},
        )
        self.interface_endpoints: list[ec2.InterfaceVpcEndpoint] = []
        if not nat:
            services = {"Ssm": ec2.InterfaceVpcEndpointAwsService.SSM}
            if settings.openai_secret_id:
                services["SecretsManager"] = ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER
            if settings.llm_provider == "bedrock":
                services["BedrockRuntime"] = ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME
            for name, service in services.items():
                self.interface_endpoints.append(self.vpc.add_interface_endpoint(name, service=service))
