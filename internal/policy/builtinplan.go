package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// checkPlan applies the engine's denials to the configuration terraform
// reports in the plan JSON. Lint has already judged the project's files and
// local modules; the plan also holds the modules lint never reads (registry
// modules), whose provisioners run at apply and whose provider settings
// apply uses again, so a denial here stops the apply. Findings map back to
// HCL when the block is in the checkout, else they name the plan address.
func (bp builtinPolicy) checkPlan(c *config, doc map[string]any) []Finding {
	conf, _ := doc["configuration"].(map[string]any)
	if conf == nil {
		return nil
	}
	var out []Finding
	deny := func(rule, title, addr, attr, format string, args ...any) {
		v := map[string]any{"msg": fmt.Sprintf(format, args...), "address": addr}
		if attr != "" {
			v["attribute"] = attr
		}
		f := c.planFinding(result{info: RuleInfo{ID: rule, Title: title}, kind: SeverityDeny, value: v})
		out = append(out, f)
	}
	if pcs, ok := conf["provider_config"].(map[string]any); ok {
		for _, key := range sortedKeys(pcs) {
			pc, _ := pcs[key].(map[string]any)
			name, _ := pc["name"].(string)
			addr := "provider." + name
			if alias, _ := pc["alias"].(string); alias != "" {
				addr += "." + alias
			}
			if m, _ := pc["module_address"].(string); m != "" {
				addr = m + "." + addr
			}
			exprs, _ := pc["expressions"].(map[string]any)
			for _, setting := range sortedKeys(exprs) {
				if credentialSetting(setting) {
					deny(RuleCredentialConfig, titleCredentialConfig, addr, setting,
						"%s sets %s, which picks the credentials or endpoint terraform uses; tfpr runs each project as its own service account: remove %s", addr, setting, setting)
				}
			}
		}
	}
	var walk func(mod map[string]any, prefix string)
	walk = func(mod map[string]any, prefix string) {
		resources, _ := mod["resources"].([]any)
		for _, x := range resources {
			r, _ := x.(map[string]any)
			rel, _ := r["address"].(string)
			typ, _ := r["type"].(string)
			mode, _ := r["mode"].(string)
			addr := prefix + rel
			provs, _ := r["provisioners"].([]any)
			for i, p := range provs {
				pt, _ := p.(map[string]any)["type"].(string)
				if !slices.Contains(bp.allowedProvisioners, pt) {
					deny(RuleProvisioner, titleProvisioner, addr, fmt.Sprintf("provisioner.%d", i),
						"%s: provisioner %q runs at apply as tfpr's own user, next to its keys; manage the change with a resource or a reviewed module instead (an operator can allow %s by name in the allowed_provisioners policy param)", addr, pt, pt)
				}
			}
			if mode != "data" && mode != "ephemeral" {
				continue
			}
			switch {
			case typ == "terraform_remote_state" && mode == "data":
				bp.planRemoteState(r, addr, deny)
			case credentialDataSources[typ] && !slices.Contains(bp.allowedDataSources, typ):
				deny(RuleCredentialDataSource, titleCredentialData, addr, "",
					"%s hands this configuration a token or key of a service account, which tfpr's identity can mint for any team; tfpr runs each project as its own service account, so remove it (an operator can allow %s by name in the allowed_data_sources policy param)", addr, typ)
			}
		}
		calls, _ := mod["module_calls"].(map[string]any)
		for _, name := range sortedKeys(calls) {
			call, _ := calls[name].(map[string]any)
			if sub, ok := call["module"].(map[string]any); ok {
				walk(sub, prefix+"module."+name+".")
			}
		}
	}
	if root, ok := conf["root_module"].(map[string]any); ok {
		walk(root, "")
	}
	return out
}

// planRemoteState judges terraform_remote_state as lint does, from the
// constant values the plan records; a config terraform could not record as
// a constant cannot be checked and is denied.
func (bp builtinPolicy) planRemoteState(r map[string]any, addr string, deny func(rule, title, addr, attr, format string, args ...any)) {
	exprs, _ := r["expressions"].(map[string]any)
	if be, ok := exprs["backend"].(map[string]any); ok {
		if s, _ := be["constant_value"].(string); s != "gcs" {
			deny(RuleCredentialConfig, titleCredentialConfig, addr, "backend",
				"%s: backend must be the literal \"gcs\"; other backends can read host files or use other credentials", addr)
		}
	}
	cfg, ok := exprs["config"].(map[string]any)
	if !ok {
		return
	}
	keys, ok := cfg["constant_value"].(map[string]any)
	if !ok {
		deny(RuleCredentialConfig, titleCredentialConfig, addr, "config",
			"%s: write config as an object literal (only %s) so tfpr can check it", addr, strings.Join(remoteStateSettings, " and "))
		return
	}
	for _, k := range sortedKeys(keys) {
		if !slices.Contains(remoteStateSettings, k) {
			deny(RuleCredentialConfig, titleCredentialConfig, addr, "config",
				"%s sets config.%s; tfpr runs each project as its own service account and reads state with it: remove %s (only %s may be set)", addr, k, k, strings.Join(remoteStateSettings, " and "))
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
