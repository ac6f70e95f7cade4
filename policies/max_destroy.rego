# METADATA
# title: too many resources destroyed
# description: >-
#   A plan that destroys more than data.tfpr.params.max_destroy resources
#   (default 20) is usually a mistake such as a renamed module or a wrong
#   workspace. It is blocked until approved for this rule.
# custom:
#   id: TFPR102
#   severity: deny
package tfpr.plan.max_destroy

destroyed := [rc.address |
	some rc in input.resource_changes
	rc.mode == "managed"
	"delete" in rc.change.actions
]

deny contains msg if {
	count(destroyed) > data.tfpr.params.max_destroy
	msg := sprintf("plan destroys %d resources, more than the limit of %v; this needs approval", [count(destroyed), data.tfpr.params.max_destroy])
}
