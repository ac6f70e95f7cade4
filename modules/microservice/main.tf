# One microservice in one environment: its project, identities, namespace
# and database, from a handful of inputs. Every name derives from
# <service>-<env>, the only project tfpr's policies let the service manage.

module "project" {
  source = "../gcp-project"

  service         = var.service
  env             = var.env
  owner           = var.owner
  billing_account = var.billing_account
  folder_id       = var.folder_id
}

module "accounts" {
  source = "../service-accounts"

  service                = var.service
  env                    = var.env
  executor               = var.executor
  tfpr_service_account   = var.tfpr_service_account
  workload_identity_pool = var.workload_identity_pool
  app_roles              = var.app_roles
  state_bucket           = var.state_bucket
  state_prefix           = var.state_prefix

  depends_on = [module.project]
}

module "namespace" {
  source = "../k8s-namespace"

  service       = var.service
  env           = var.env
  owner         = var.owner
  team_group    = var.team_group
  app_gsa_email = module.accounts.app_email
}

module "database" {
  source = "../spanner"

  service          = var.service
  env              = var.env
  owner            = var.owner
  processing_units = var.spanner_processing_units

  depends_on = [module.project]
}
