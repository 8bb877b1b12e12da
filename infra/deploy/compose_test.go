package deploy_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"

	"github.com/commerce-dev/commerce/infra/bus"
)

// repoRoot is the repository's root, where docker-compose.yml is.
const repoRoot = "../.."

// loadCompose loads docker-compose.yml as `docker compose` does (interpolation, anchors, merge
// keys, normalization and the consistency checks), with an empty environment so that the
// file's own defaults are what is checked.
func loadCompose(t *testing.T) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(repoRoot, "docker-compose.yml")},
		cli.WithWorkingDirectory(repoRoot), cli.WithEnv(nil), cli.WithName("commerce"))
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

func TestComposeServicesAndHealthchecks(t *testing.T) {
	p := loadCompose(t)
	for _, name := range []string{"postgres", "kurrentdb", "kafka", "kafka-init", "seed", "app", "otel-collector", "jaeger", "prometheus", "grafana"} {
		service(t, p, name)
	}
	for _, name := range []string{"postgres", "kurrentdb", "kafka", "app", "prometheus", "grafana"} {
		hc := service(t, p, name).HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	app := service(t, p, "app")
	if want := []string{"/usr/local/bin/commerce", "healthcheck"}; !slices.Equal(app.HealthCheck.Test[1:], want) {
		t.Errorf("app healthcheck = %v, want CMD %v", app.HealthCheck.Test, want)
	}
	// The app starts after the one-shots finished: seeded data and topics with their partitions.
	for dep, cond := range map[string]string{"seed": types.ServiceConditionCompletedSuccessfully, "kafka-init": types.ServiceConditionCompletedSuccessfully} {
		if got := app.DependsOn[dep].Condition; got != cond {
			t.Errorf("app depends on %s with condition %q, want %q", dep, got, cond)
		}
	}
	seed := service(t, p, "seed")
	if !slices.Equal(seed.Command, types.ShellCommand{"seed"}) || seed.Image != app.Image || env(seed, "DATABASE_URL") != env(app, "DATABASE_URL") {
		t.Errorf("seed: command %v, image %q, DATABASE_URL %q; want [seed] on the app's image and database", seed.Command, seed.Image, env(seed, "DATABASE_URL"))
	}
	if seed.DependsOn["postgres"].Condition != types.ServiceConditionHealthy {
		t.Errorf("seed does not wait for a healthy postgres: %v", seed.DependsOn)
	}
	// Traces go to the collector, which sends them to Jaeger.
	if got := env(app, "OTEL_EXPORTER_OTLP_ENDPOINT"); got != "http://otel-collector:4318" {
		t.Errorf("app OTEL_EXPORTER_OTLP_ENDPOINT = %q, want the collector's OTLP/HTTP port", got)
	}
}

// TestComposePublishesOnlyOnLoopback: nothing of the demo stack (placeholder passwords) is
// reachable from other hosts.
func TestComposePublishesOnlyOnLoopback(t *testing.T) {
	p := loadCompose(t)
	for name, s := range p.Services {
		for _, port := range s.Ports {
			if port.HostIP != "127.0.0.1" {
				t.Errorf("service %s publishes %d on %q, want 127.0.0.1", name, port.Target, port.HostIP)
			}
		}
	}
}

// TestComposeKafkaNeedsAuthenticationFromTheHost: the one listener published on the host requires
// SASL/SCRAM and is advertised as localhost; the listener the app uses is only on the compose
// network; topics are created with their partitions, one per aggregate type, and never implicitly.
func TestComposeKafkaNeedsAuthenticationFromTheHost(t *testing.T) {
	p := loadCompose(t)
	kafka := service(t, p, "kafka")
	protocols := map[string]string{}
	for _, kv := range strings.Split(env(kafka, "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"), ",") {
		name, proto, _ := strings.Cut(kv, ":")
		protocols[name] = proto
	}
	listenerPort := map[string]string{}
	for _, l := range strings.Split(env(kafka, "KAFKA_LISTENERS"), ",") {
		name, addr, _ := strings.Cut(l, "://")
		listenerPort[name] = addr[strings.LastIndex(addr, ":")+1:]
	}
	advertised := map[string]string{}
	for _, l := range strings.Split(env(kafka, "KAFKA_ADVERTISED_LISTENERS"), ",") {
		name, addr, _ := strings.Cut(l, "://")
		advertised[name] = addr
	}
	if len(kafka.Ports) == 0 {
		t.Fatal("kafka publishes no port: not reachable from the host")
	}
	for _, port := range kafka.Ports {
		var listener string
		for name, p := range listenerPort {
			if p == port.Published {
				listener = name
			}
		}
		if !strings.HasPrefix(protocols[listener], "SASL_") {
			t.Errorf("host port %s is listener %q with protocol %q, want SASL", port.Published, listener, protocols[listener])
		}
		if advertised[listener] != "localhost:"+port.Published {
			t.Errorf("listener %s advertises %q, want localhost:%s for host clients", listener, advertised[listener], port.Published)
		}
	}
	mechanisms := env(kafka, "KAFKA_SASL_ENABLED_MECHANISMS")
	if !strings.HasPrefix(mechanisms, "SCRAM-") {
		t.Errorf("KAFKA_SASL_ENABLED_MECHANISMS = %q, want SCRAM", mechanisms)
	}
	app := service(t, p, "app")
	broker := env(app, "KAFKA_BROKERS")
	var appListener string
	for name, addr := range advertised {
		if addr == broker {
			appListener = name
		}
	}
	for _, port := range kafka.Ports {
		if port.Published == listenerPort[appListener] {
			t.Errorf("the app's listener %s (%s) is published on the host", appListener, broker)
		}
	}
	if env(kafka, "KAFKA_AUTO_CREATE_TOPICS_ENABLE") != "false" {
		t.Error("Kafka creates topics implicitly: a typo would make a topic with the wrong partitions")
	}
	script := strings.Join(service(t, p, "kafka-init").Command, " ")
	for _, topic := range bus.Topics() {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(topic) + `\b`).MatchString(script) {
			t.Errorf("kafka-init does not create topic %s", topic)
		}
	}
	if !strings.Contains(script, "--partitions 8") || !strings.Contains(script, "SCRAM-SHA-512=") {
		t.Errorf("kafka-init does not create partitioned topics and the SCRAM user: %s", script)
	}
}

// TestComposeMountedFilesExistAndParse opens every file the services mount from the repository
// and parses it (YAML or JSON), and checks that the pieces refer to each other: Prometheus loads
// the mounted alert rules, Grafana's dashboard uses the provisioned datasource, and every
// commerce_ metric the rules and the dashboard read is one infra/telemetry defines.
func TestComposeMountedFilesExistAndParse(t *testing.T) {
	p := loadCompose(t)
	mounted := map[string]string{} // container path -> host path
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("service %s mounts %s: %v", name, v.Source, err)
				continue
			}
			mounted[v.Target] = v.Source
		}
	}
	var files []string
	for _, src := range mounted {
		err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, path)
			}
			return err
		})
		if err != nil {
			t.Fatalf("walk %s: %v", src, err)
		}
	}
	docs := map[string]map[string]any{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		switch filepath.Ext(f) {
		case ".json":
			err = json.Unmarshal(raw, &doc)
		case ".yml", ".yaml":
			err = yaml.Unmarshal(raw, &doc)
		default:
			t.Errorf("mounted file %s is neither YAML nor JSON", f)
			continue
		}
		if err != nil || len(doc) == 0 {
			t.Errorf("parse %s: %v (%d keys)", f, err, len(doc))
		}
		docs[f] = doc
	}

	prom := docs[mounted["/etc/prometheus/prometheus.yml"]]
	for _, rf := range prom["rule_files"].([]any) {
		if _, ok := mounted[rf.(string)]; !ok {
			t.Errorf("prometheus.yml loads rules %s, which no volume mounts", rf)
		}
	}
	for _, sc := range prom["scrape_configs"].([]any) {
		for _, sd := range sc.(map[string]any)["dns_sd_configs"].([]any) {
			for _, name := range sd.(map[string]any)["names"].([]any) {
				if _, err := p.GetService(name.(string)); err != nil {
					t.Errorf("prometheus.yml scrapes %s: %v", name, err)
				}
			}
		}
	}
	rules := docs[mounted["/etc/prometheus/alerts.yml"]]
	var alerts, exprs []string
	for _, g := range rules["groups"].([]any) {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			rule := r.(map[string]any)
			alerts = append(alerts, rule["alert"].(string))
			exprs = append(exprs, rule["expr"].(string))
		}
	}
	for _, want := range []string{"CommerceNotReady", "CommerceProjectionFailing", "CommerceProjectionStalled", "CommerceRelayLag", "CommerceHighServerErrorRate"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alert rules have no %s (have %v)", want, alerts)
		}
	}

	uids := map[string]bool{}
	provisioning := mounted["/etc/grafana/provisioning"]
	for f, doc := range docs {
		if strings.HasPrefix(f, filepath.Join(provisioning, "datasources")) {
			for _, ds := range doc["datasources"].([]any) {
				uids[ds.(map[string]any)["uid"].(string)] = true
			}
		}
	}
	dashboards := 0
	for f, doc := range docs {
		if !strings.HasPrefix(f, mounted["/var/lib/grafana/dashboards"]) {
			continue
		}
		dashboards++
		for _, panel := range doc["panels"].([]any) {
			pm := panel.(map[string]any)
			uid := pm["datasource"].(map[string]any)["uid"].(string)
			if !uids[uid] {
				t.Errorf("%s: panel %q uses datasource %q, which is not provisioned", f, pm["title"], uid)
			}
			for _, target := range pm["targets"].([]any) {
				exprs = append(exprs, target.(map[string]any)["expr"].(string))
			}
		}
	}
	if dashboards == 0 {
		t.Error("no dashboard is mounted into Grafana")
	}

	defined := telemetryMetricNames(t)
	metric := regexp.MustCompile(`\bcommerce_[a-z_]+`)
	for _, e := range exprs {
		for _, name := range metric.FindAllString(e, -1) {
			base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_count"), "_sum")
			if !defined[base] {
				t.Errorf("expression %q reads %s, which infra/telemetry does not define", e, name)
			}
		}
	}
}

// telemetryMetricNames returns the metric names infra/telemetry's source defines.
func telemetryMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("../telemetry/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("glob infra/telemetry: %v (%d files)", err, len(files))
	}
	names := map[string]bool{}
	quoted := regexp.MustCompile(`"(commerce_[a-z_]+)"`)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range quoted.FindAllStringSubmatch(string(raw), -1) {
			names[m[1]] = true
		}
	}
	return names
}
