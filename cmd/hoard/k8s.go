package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/hoard-db/hoard/internal/datastore"
	"github.com/hoard-db/hoard/internal/driver"
	"github.com/hoard-db/hoard/internal/driver/kubernetes"
)

// Driver names accepted by --driver.
const (
	driverLocal      = "local"
	driverKubernetes = "kubernetes"
)

// engineNames returns the names of engines, sorted. --k8s-images and
// --k8s-readiness accept the engines hoard runs (newEngines), whether or
// not they know their own container (datastore.Containerized): one that
// does not needs an image from --k8s-images to run.
func engineNames(engines map[string]datastore.Engine) []string {
	return slices.Sorted(maps.Keys(engines))
}

// parseImages parses --k8s-images: comma-separated engine=image pairs,
// each engine one of names.
func parseImages(s string, names []string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		eng, img, ok := strings.Cut(part, "=")
		eng, img = strings.TrimSpace(eng), strings.TrimSpace(img)
		if !ok || eng == "" || img == "" {
			return nil, fmt.Errorf("want engine=image, got %q", part)
		}
		if !slices.Contains(names, eng) {
			return nil, fmt.Errorf("unknown engine %q (want one of %s)", eng, strings.Join(names, ", "))
		}
		if strings.ContainsAny(img, " \t\n\"'") {
			return nil, fmt.Errorf("image of %s has white space or quotes", eng)
		}
		if _, dup := out[eng]; dup {
			return nil, fmt.Errorf("engine %q given twice", eng)
		}
		out[eng] = img
	}
	return out, nil
}

// parseReadiness parses --k8s-readiness: engine=command pairs separated by
// ';'. A command is split on white space and runs without a shell, as the
// probe's exec does; one whose arguments hold spaces (a shell script, "sh
// -c ...") is given as a JSON array of strings instead. Quotes outside
// such an array are refused: no shell would remove them. Each engine is
// one of names.
func parseReadiness(s string, names []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		eng, cmd, ok := strings.Cut(part, "=")
		eng, cmd = strings.TrimSpace(eng), strings.TrimSpace(cmd)
		if !ok || eng == "" || cmd == "" {
			return nil, fmt.Errorf("want engine=command, got %q", strings.TrimSpace(part))
		}
		if !slices.Contains(names, eng) {
			return nil, fmt.Errorf("unknown engine %q (want one of %s)", eng, strings.Join(names, ", "))
		}
		if _, dup := out[eng]; dup {
			return nil, fmt.Errorf("engine %q given twice", eng)
		}
		var args []string
		if strings.HasPrefix(cmd, "[") {
			if err := json.Unmarshal([]byte(cmd), &args); err != nil {
				return nil, fmt.Errorf("command of %s: want a JSON array of strings: %v", eng, err)
			}
			if len(args) == 0 || args[0] == "" {
				return nil, fmt.Errorf("command of %s: empty", eng)
			}
		} else {
			if strings.ContainsAny(cmd, "\"'`") {
				return nil, fmt.Errorf("command of %s has quotes, which no shell removes here: give it as a JSON array, e.g. [\"sh\",\"-c\",\"...\"]", eng)
			}
			args = strings.Fields(cmd)
		}
		out[eng] = args
	}
	return out, nil
}

// validateDriver checks the driver flags.
func (c *serveConfig) validateDriver() []error {
	var errs []error
	switch c.Driver {
	case driverLocal, driverKubernetes:
	default:
		errs = append(errs, fmt.Errorf("--driver %q: want %s or %s", c.Driver, driverLocal, driverKubernetes))
	}
	names := engineNames(newEngines(nil))
	if _, err := parseImages(c.K8sImages, names); err != nil {
		errs = append(errs, fmt.Errorf("--k8s-images: %w", err))
	}
	if _, err := parseReadiness(c.K8sReadiness, names); err != nil {
		errs = append(errs, fmt.Errorf("--k8s-readiness: %w", err))
	}
	if _, err := kubernetes.ParseLabels(c.K8sHoardPodLabels); err != nil {
		errs = append(errs, fmt.Errorf("--k8s-hoard-pod-labels: %w", err))
	}
	if ns := c.K8sHoardNamespace; ns != "" && !kubernetes.ValidNamespace(ns) {
		errs = append(errs, fmt.Errorf("--k8s-hoard-namespace %q: not a namespace name", ns))
	}
	if p := c.K8sNamespacePrefix; p == "" || len(p) > 30 || strings.Trim(p, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || p[0] < 'a' || p[0] > 'z' {
		errs = append(errs, errors.New("--k8s-namespace-prefix: want lower-case letters, digits and '-', starting with a letter, at most 30 characters"))
	}
	return errs
}

// newKubernetesDriver builds the kubernetes driver from the flags.
func newKubernetesDriver(c *serveConfig, engines map[string]datastore.Engine, observe driver.Observer,
	creds func(string) (string, datastore.Secret), log *slog.Logger) (*kubernetes.Driver, error) {
	client, err := kubernetes.NewClient(c.Kubeconfig)
	if err != nil {
		return nil, err
	}
	names := engineNames(engines)
	images, err := parseImages(c.K8sImages, names)
	if err != nil {
		return nil, fmt.Errorf("--k8s-images: %w", err)
	}
	readiness, err := parseReadiness(c.K8sReadiness, names)
	if err != nil {
		return nil, fmt.Errorf("--k8s-readiness: %w", err)
	}
	podLabels, err := kubernetes.ParseLabels(c.K8sHoardPodLabels)
	if err != nil {
		return nil, fmt.Errorf("--k8s-hoard-pod-labels: %w", err)
	}
	hoardNS := c.K8sHoardNamespace
	if hoardNS == "" {
		hoardNS = kubernetes.InClusterNamespace()
	}
	log.Info("kubernetes driver", "namespace_prefix", c.K8sNamespacePrefix, "storage_class", c.K8sStorageClass,
		"keep_volumes", c.K8sKeepVolumes, "engines", names, "hoard_namespace", hoardNS, "hoard_pod_labels", podLabels)
	return kubernetes.New(kubernetes.Config{
		Client:          client,
		NamespacePrefix: c.K8sNamespacePrefix,
		StorageClass:    c.K8sStorageClass,
		Images:          images,
		Readiness:       readiness,
		Engines:         engines,
		KeepVolumes:     c.K8sKeepVolumes,
		HoardNamespace:  hoardNS,
		HoardPodLabels:  podLabels,
		Credentials:     creds,
		Observer:        observe,
		Logger:          log,
	})
}

// tagRE is the grammar of an image tag (the distribution reference's).
var tagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// versionTagRE is a tag that names a version: a dotted number, optionally
// followed by a variant ("10.11", "15.6-bookworm", "7.0-alpine3.19").
var versionTagRE = regexp.MustCompile(`^([0-9]{1,9}(?:\.[0-9]{1,9}){0,3})(?:[-_][A-Za-z0-9_.-]*)?$`)

// imageVersion returns the datastore version an engine image runs, read
// from its tag: the tag's leading version number is the version's name
// ("10.11" of mariadb:10.11, "15.6" of postgres:15.6-bookworm) and the
// whole tag its full version (the exact server version is only known
// inside the image). An image without a tag (digest only, or the implicit
// "latest") or whose tag is not a version ("lts") has no usable version.
func imageVersion(image string) (datastore.Version, error) {
	ref := image
	digest := false
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref, digest = ref[:i], true
	}
	rest := ref[strings.LastIndexByte(ref, '/')+1:]
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		if digest {
			return datastore.Version{}, fmt.Errorf("image %q is pinned by digest without a tag: its version is unknown", image)
		}
		return datastore.Version{}, fmt.Errorf("image %q has no tag: its version is unknown", image)
	}
	tag := rest[i+1:]
	if !tagRE.MatchString(tag) {
		return datastore.Version{}, fmt.Errorf("image %q: invalid tag %q", image, tag)
	}
	m := versionTagRE.FindStringSubmatch(tag)
	if m == nil {
		return datastore.Version{}, fmt.Errorf("image %q: tag %q does not name a version (want e.g. 10.11 or 15.6-bookworm)", image, tag)
	}
	return datastore.Version{Name: m[1], Version: tag}, nil
}

// imageVersions returns the service's catalogue source under the
// kubernetes driver: each engine offers the version of its image (image
// gives an engine's image, kubernetes.Driver.Image). An engine without a
// usable image version is not offered (the service logs why).
func imageVersions(image func(engine string) string) func(context.Context, datastore.Engine) ([]datastore.Version, error) {
	return func(_ context.Context, e datastore.Engine) ([]datastore.Version, error) {
		img := image(e.Name())
		if img == "" {
			return nil, fmt.Errorf("no image for engine %s", e.Name())
		}
		v, err := imageVersion(img)
		if err != nil {
			return nil, err
		}
		return []datastore.Version{v}, nil
	}
}
