package deploy_test

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const k8sDir = "k8s"

// manifests are the decoded objects of the kustomization's resources, by kind.
type manifests struct {
	deployments []appsv1.Deployment
	services    []corev1.Service
	configMaps  []corev1.ConfigMap
	secrets     []corev1.Secret
	pdbs        []policyv1.PodDisruptionBudget
	hpas        []autoscalingv2.HorizontalPodAutoscaler
	namespaces  []corev1.Namespace
}

// loadManifests reads kustomization.yaml, checks that it lists every manifest of the directory and
// only existing ones, and decodes every document strictly into its Kubernetes API type: an unknown
// or misspelt field, or a value of the wrong type, fails the test.
func loadManifests(t *testing.T) manifests {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(k8sDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kust struct {
		APIVersion string   `json:"apiVersion"`
		Kind       string   `json:"kind"`
		Namespace  string   `json:"namespace"`
		Resources  []string `json:"resources"`
		Labels     []any    `json:"labels"`
		Images     []struct {
			Name, NewName, NewTag string
		} `json:"images"`
	}
	if err := yaml.UnmarshalStrict(raw, &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if kust.Kind != "Kustomization" || kust.Namespace == "" {
		t.Fatalf("kustomization.yaml: kind %q, namespace %q", kust.Kind, kust.Namespace)
	}
	files, _ := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	var onDisk []string
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" {
			onDisk = append(onDisk, base)
		}
	}
	slices.Sort(onDisk)
	listed := slices.Sorted(slices.Values(kust.Resources))
	if !slices.Equal(onDisk, listed) {
		t.Fatalf("kustomization.yaml lists %v; the directory has %v", listed, onDisk)
	}

	var m manifests
	separator := regexp.MustCompile(`(?m)^---\s*$`)
	for _, f := range kust.Resources {
		raw, err := os.ReadFile(filepath.Join(k8sDir, f))
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range separator.Split(string(raw), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			var obj any
			switch tm.APIVersion + " " + tm.Kind {
			case "apps/v1 Deployment":
				m.deployments = append(m.deployments, appsv1.Deployment{})
				obj = &m.deployments[len(m.deployments)-1]
			case "v1 Service":
				m.services = append(m.services, corev1.Service{})
				obj = &m.services[len(m.services)-1]
			case "v1 ConfigMap":
				m.configMaps = append(m.configMaps, corev1.ConfigMap{})
				obj = &m.configMaps[len(m.configMaps)-1]
			case "v1 Secret":
				m.secrets = append(m.secrets, corev1.Secret{})
				obj = &m.secrets[len(m.secrets)-1]
			case "policy/v1 PodDisruptionBudget":
				m.pdbs = append(m.pdbs, policyv1.PodDisruptionBudget{})
				obj = &m.pdbs[len(m.pdbs)-1]
			case "autoscaling/v2 HorizontalPodAutoscaler":
				m.hpas = append(m.hpas, autoscalingv2.HorizontalPodAutoscaler{})
				obj = &m.hpas[len(m.hpas)-1]
			case "v1 Namespace":
				m.namespaces = append(m.namespaces, corev1.Namespace{})
				obj = &m.namespaces[len(m.namespaces)-1]
			default:
				t.Fatalf("%s document %d: %s %s is not a kind this test knows", f, i, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i, tm.Kind, err)
			}
		}
	}
	return m
}

func stripComments(doc string) string {
	var b bytes.Buffer
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	m := loadManifests(t)
	if len(m.deployments) == 0 || len(m.configMaps) == 0 || len(m.secrets) == 0 || len(m.pdbs) == 0 {
		t.Fatalf("decoded %d deployments, %d config maps, %d secrets, %d PDBs; want each", len(m.deployments), len(m.configMaps), len(m.secrets), len(m.pdbs))
	}
}

// TestKubernetesRolesProbesAndConfig checks the wiring: every role in a workload of its own
// (api and saga scalable, relay and projector with a standby), probes on /healthz and /readyz of a
// declared port, configuration from the ConfigMap and secrets from the Secret, a
// PodDisruptionBudget and, where one routes, a Service over each workload's pods.
func TestKubernetesRolesProbesAndConfig(t *testing.T) {
	m := loadManifests(t)
	configMaps, secrets := map[string]corev1.ConfigMap{}, map[string]bool{}
	for _, c := range m.configMaps {
		configMaps[c.Name] = c
	}
	for _, s := range m.secrets {
		secrets[s.Name] = true
		for _, key := range []string{"DATABASE_URL", "JWT_SECRET_USER", "JWT_SECRET_SELLER", "JWT_SECRET_SUPERVISOR"} {
			if _, ok := s.StringData[key]; !ok {
				t.Errorf("Secret %s has no %s", s.Name, key)
			}
		}
	}
	for _, c := range configMaps {
		for key := range c.Data {
			if strings.Contains(key, "SECRET") || key == "DATABASE_URL" {
				t.Errorf("ConfigMap %s holds %s, a secret", c.Name, key)
			}
		}
	}

	roles := map[string]appsv1.Deployment{}
	for _, d := range m.deployments {
		if len(d.Spec.Template.Spec.Containers) != 1 {
			t.Fatalf("Deployment %s: %d containers, want 1", d.Name, len(d.Spec.Template.Spec.Containers))
		}
		c := d.Spec.Template.Spec.Containers[0]
		var role string
		for _, e := range c.Env {
			if e.Name == "ROLES" {
				role = e.Value
			}
		}
		if role == "" {
			t.Errorf("Deployment %s sets no ROLES", d.Name)
		}
		roles[role] = d
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("Deployment %s: selector %v does not match its pods' labels %v (%v)", d.Name, d.Spec.Selector, d.Spec.Template.Labels, err)
		}
		ports := map[string]bool{}
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
		for name, probe := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			want := map[string]string{"liveness": "/healthz", "readiness": "/readyz"}[name]
			if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != want {
				t.Errorf("Deployment %s: %s probe %+v, want GET %s", d.Name, name, probe, want)
				continue
			}
			if !ports[probe.HTTPGet.Port.StrVal] {
				t.Errorf("Deployment %s: %s probe on port %q, which the container does not declare", d.Name, name, probe.HTTPGet.Port.String())
			}
		}
		var fromConfig, fromSecret bool
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef != nil {
				_, fromConfig = configMaps[ef.ConfigMapRef.Name]
			}
			if ef.SecretRef != nil {
				fromSecret = secrets[ef.SecretRef.Name]
			}
		}
		if !fromConfig || !fromSecret {
			t.Errorf("Deployment %s: configuration from a ConfigMap %v, secrets from a Secret %v; want both from this kustomization", d.Name, fromConfig, fromSecret)
		}
		covered := false
		for _, p := range m.pdbs {
			sel, _ := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			covered = covered || sel.Matches(labels.Set(d.Spec.Template.Labels))
		}
		if !covered {
			t.Errorf("Deployment %s: no PodDisruptionBudget selects its pods", d.Name)
		}
		sc := d.Spec.Template.Spec.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("Deployment %s may run as root", d.Name)
		}
	}
	for _, role := range []string{"api", "saga", "relay,projector"} {
		if _, ok := roles[role]; !ok {
			t.Errorf("no Deployment runs ROLES=%s (have %v)", role, slices.Collect(maps.Keys(roles)))
		}
	}
	for _, role := range []string{"api", "saga"} {
		scaled := false
		for _, h := range m.hpas {
			scaled = scaled || (h.Spec.ScaleTargetRef.Kind == "Deployment" && h.Spec.ScaleTargetRef.Name == roles[role].Name && h.Spec.MaxReplicas > 1)
		}
		if !scaled {
			t.Errorf("ROLES=%s is not scaled by a HorizontalPodAutoscaler", role)
		}
	}
	if w := roles["relay,projector"]; w.Spec.Replicas == nil || *w.Spec.Replicas < 2 {
		t.Errorf("relay and projector run with %v replicas, want 2 (one standby)", w.Spec.Replicas)
	}
	for _, s := range m.services {
		sel := labels.SelectorFromSet(s.Spec.Selector)
		found := false
		for _, d := range m.deployments {
			found = found || sel.Matches(labels.Set(d.Spec.Template.Labels))
		}
		if !found {
			t.Errorf("Service %s selects no Deployment's pods", s.Name)
		}
	}
}
