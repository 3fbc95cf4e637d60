// Command kubevirt-manifests prints what virt-operator would install for KubeVirt's
// control plane, taken from KubeVirt's own generators (kubevirt.io/kubevirt, the
// version pinned in ../go.mod, pkg/virt-operator/resource/generate/{components,rbac}):
//
//	--out DIR      DIR/crds.yaml      every CRD of install.GenerateCurrentInstallStrategy
//	                                  plus the KubeVirt CRD (created by the operator's install)
//	               DIR/rbac.yaml      service accounts, roles and bindings of the strategy
//	               DIR/webhooks.yaml  virt-api's validating and mutating webhook configurations
//	--schemas DIR  DIR/<kind>.v1.schema.json  the v1 openAPIV3Schema of VirtualMachine,
//	                                  VirtualMachineInstance and KubeVirt
//
// Webhook configurations keep their `service:` client config; the e2e harness rewrites
// it to a loopback `url:`, as it does for nicguard's own.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/rbac"
)

// namespace KubeVirt is installed into; the controllers' service accounts live here.
const namespace = "kubevirt"

// crdConstructors is the list of install.GenerateCurrentInstallStrategy (v1.8.4,
// pkg/virt-operator/resource/generate/install/strategy.go) plus NewKubeVirtCrd.
var crdConstructors = []func() (*extv1.CustomResourceDefinition, error){
	components.NewKubeVirtCrd,
	components.NewVirtualMachineInstanceCrd, components.NewPresetCrd, components.NewReplicaSetCrd,
	components.NewVirtualMachineCrd, components.NewVirtualMachineInstanceMigrationCrd,
	components.NewVirtualMachineSnapshotCrd, components.NewVirtualMachineSnapshotContentCrd,
	components.NewVirtualMachineRestoreCrd, components.NewVirtualMachineInstancetypeCrd,
	components.NewVirtualMachineClusterInstancetypeCrd, components.NewVirtualMachinePoolCrd,
	components.NewMigrationPolicyCrd, components.NewVirtualMachinePreferenceCrd,
	components.NewVirtualMachineClusterPreferenceCrd, components.NewVirtualMachineExportCrd,
	components.NewVirtualMachineCloneCrd, components.NewVirtualMachineBackupCrd,
	components.NewVirtualMachineBackupTrackerCrd,
}

// schemaFiles names the CRDs whose v1 schema nicguard validates against.
var schemaFiles = map[string]string{
	"virtualmachines.kubevirt.io":         "virtualmachine.v1.schema.json",
	"virtualmachineinstances.kubevirt.io": "virtualmachineinstance.v1.schema.json",
	"kubevirts.kubevirt.io":               "kubevirt.v1.schema.json",
}

func main() {
	out := flag.String("out", "", "directory for crds.yaml, rbac.yaml and webhooks.yaml")
	schemas := flag.String("schemas", "", "directory for the VM, VMI and KubeVirt v1 schemas (JSON)")
	flag.Parse()
	if *out == "" && *schemas == "" {
		fmt.Fprintln(os.Stderr, "kubevirt-manifests: give --out DIR and/or --schemas DIR")
		os.Exit(2)
	}
	if err := run(*out, *schemas); err != nil {
		fmt.Fprintln(os.Stderr, "kubevirt-manifests:", err)
		os.Exit(1)
	}
}

func run(out, schemas string) error {
	crds := make([]*extv1.CustomResourceDefinition, 0, len(crdConstructors))
	for _, newCrd := range crdConstructors {
		crd, err := newCrd()
		if err != nil {
			return err
		}
		crds = append(crds, crd)
	}
	if schemas != "" {
		if err := writeSchemas(schemas, crds); err != nil {
			return err
		}
	}
	if out == "" {
		return nil
	}
	var rbacObjects []runtime.Object
	rbacObjects = append(rbacObjects, rbac.GetAllCluster()...)
	rbacObjects = append(rbacObjects, rbac.GetAllApiServer(namespace)...)
	// true: virt-controller may read NADs (KubeVirt's default, no external net-resource injection).
	rbacObjects = append(rbacObjects, rbac.GetAllController(namespace, true)...)
	rbacObjects = append(rbacObjects, rbac.GetAllHandler(namespace)...)

	files := map[string][]any{
		"crds.yaml": toAny(crds),
		"rbac.yaml": toAny(rbacObjects),
		"webhooks.yaml": {
			components.NewVirtAPIValidatingWebhookConfiguration(namespace),
			components.NewVirtAPIMutatingWebhookConfiguration(namespace),
		},
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for name, objects := range files {
		if err := writeYAML(filepath.Join(out, name), objects); err != nil {
			return err
		}
	}
	return nil
}

func toAny[T any](items []T) []any {
	out := make([]any, len(items))
	for i, item := range items {
		out[i] = item
	}
	return out
}

// writeYAML writes a multi-document YAML file without status and creationTimestamp,
// as virt-operator's install strategy dump does (tools/util.MarshallObject, whose
// quote fix-ups for templates break some CRD descriptions, so it is not used).
func writeYAML(path string, objects []any) error {
	var buf bytes.Buffer
	for _, obj := range objects {
		raw, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		delete(m, "status")
		if meta, ok := m["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp")
		}
		out, err := yaml.Marshal(m)
		if err != nil {
			return err
		}
		buf.WriteString("---\n")
		buf.Write(out)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeSchemas(dir string, crds []*extv1.CustomResourceDefinition) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	written := 0
	for _, crd := range crds {
		file, ok := schemaFiles[crd.Name]
		if !ok {
			continue
		}
		schema, err := v1Schema(crd)
		if err != nil {
			return err
		}
		b, err := json.MarshalIndent(schema, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, file), append(b, '\n'), 0o644); err != nil {
			return err
		}
		written++
	}
	if written != len(schemaFiles) {
		return fmt.Errorf("wrote %d of %d schemas", written, len(schemaFiles))
	}
	return nil
}

func v1Schema(crd *extv1.CustomResourceDefinition) (*extv1.JSONSchemaProps, error) {
	for _, v := range crd.Spec.Versions {
		if v.Name == "v1" && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			return v.Schema.OpenAPIV3Schema, nil
		}
	}
	return nil, errors.New(crd.Name + " has no v1 openAPIV3Schema")
}
