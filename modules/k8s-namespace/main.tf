# The service's namespace on the shared GKE cluster: the namespace itself
# (restricted pod security), a resource quota, a default-deny network policy
# and RBAC for the team. Rendered as manifests rather than created with the
# kubernetes provider: tfpr's default policies allow only the providers in
# allowed_providers, and the kubernetes provider's exec and config_path
# settings would run programs and read kubeconfigs on the tfpr host. The
# cluster's GitOps (Config Sync) or a platform-run root with the kubernetes
# provider applies them.

locals {
  name = "${var.service}-${var.env}"
  labels = {
    service = var.service
    env     = var.env
    owner   = var.owner
  }

  namespace = {
    apiVersion = "v1"
    kind       = "Namespace"
    metadata = {
      name = local.name
      labels = merge(local.labels, {
        "pod-security.kubernetes.io/enforce" = "restricted"
        "pod-security.kubernetes.io/warn"    = "restricted"
      })
    }
  }

  resource_quota = {
    apiVersion = "v1"
    kind       = "ResourceQuota"
    metadata   = { name = "default", namespace = local.name, labels = local.labels }
    spec       = { hard = var.quota }
  }

  # Ingress only from the namespace itself and the listed namespaces; egress
  # stays open (DNS, Google APIs).
  network_policy = {
    apiVersion = "networking.k8s.io/v1"
    kind       = "NetworkPolicy"
    metadata   = { name = "default-deny-ingress", namespace = local.name, labels = local.labels }
    spec = {
      podSelector = {}
      policyTypes = ["Ingress"]
      ingress = [{
        from = concat(
          [{ podSelector = {} }],
          [for ns in var.allow_ingress_from_namespaces : { namespaceSelector = { matchLabels = { "kubernetes.io/metadata.name" = ns } } }],
        )
      }]
    }
  }

  team_binding = {
    apiVersion = "rbac.authorization.k8s.io/v1"
    kind       = "RoleBinding"
    metadata   = { name = "team-edit", namespace = local.name, labels = local.labels }
    roleRef    = { apiGroup = "rbac.authorization.k8s.io", kind = "ClusterRole", name = "edit" }
    subjects   = [{ apiGroup = "rbac.authorization.k8s.io", kind = "Group", name = var.team_group }]
  }

  service_account = {
    apiVersion = "v1"
    kind       = "ServiceAccount"
    metadata = {
      name        = var.app_ksa
      namespace   = local.name
      labels      = local.labels
      annotations = var.app_gsa_email == "" ? {} : { "iam.gke.io/gcp-service-account" = var.app_gsa_email }
    }
  }

  manifests = {
    "00-namespace.yaml"        = yamlencode(local.namespace)
    "10-resource-quota.yaml"   = yamlencode(local.resource_quota)
    "10-network-policy.yaml"   = yamlencode(local.network_policy)
    "20-team-rolebinding.yaml" = yamlencode(local.team_binding)
    "20-service-account.yaml"  = yamlencode(local.service_account)
  }
}
