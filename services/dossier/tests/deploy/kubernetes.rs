//! `deploy/k8s/`: Deployments, Services, probes, resources, disruption budgets, autoscalers,
//! network policies and secrets by reference.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use crate::code::*;
use crate::files::*;

// ---- Kubernetes ------------------------------------------------------------------------------

pub fn k8s_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir().join("k8s"))
        .expect("deploy/k8s")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    files
}

pub fn k8s_documents() -> Vec<Value> {
    k8s_files().iter().flat_map(|p| yaml_documents(p)).collect()
}

pub fn containers(deployment: &Value) -> &Vec<Value> {
    list_of(
        &deployment["spec"]["template"]["spec"]["containers"],
        "containers",
    )
}

pub fn of_kind<'a>(documents: &'a [Value], kind: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

pub fn named<'a>(documents: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    of_kind(documents, kind)
        .into_iter()
        .find(|d| d["metadata"]["name"].as_str() == Some(name))
}

/// Whether `selector` (matchLabels, or a plain label map) selects pods labelled `labels`.
pub fn selects(selector: &Value, labels: &Value) -> bool {
    let wanted = selector.get("matchLabels").unwrap_or(selector);
    // A peer without a pod selector (a namespace or an address block) selects no pod by name.
    wanted.as_object().is_some_and(|wanted| {
        !wanted.is_empty() && wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
    })
}

/// The environment a Deployment's container sees from its ConfigMaps.
pub fn configured_env(documents: &[Value], container: &Value) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for source in container["envFrom"].as_array().into_iter().flatten() {
        let name = str_of(&source["configMapRef"]["name"], "configMapRef");
        let map =
            named(documents, "ConfigMap", name).unwrap_or_else(|| panic!("no ConfigMap {name}"));
        for (k, v) in map_of(&map["data"], "data") {
            env.insert(k.clone(), str_of(v, k).to_owned());
        }
    }
    env
}

#[test]
fn every_service_has_a_deployment_and_a_service_with_grpc_probes_and_resources() {
    let known = known_services();
    let documents = k8s_documents();
    let deployments = of_kind(&documents, "Deployment");
    let served: BTreeSet<String> = deployments
        .iter()
        .map(|d| {
            let args: Vec<&str> = list_of(&containers(d)[0]["args"], "args")
                .iter()
                .map(|a| str_of(a, "arg"))
                .collect();
            assert_eq!(args.len(), 2, "args are serve <service>");
            assert_eq!(args[0], "serve");
            assert_eq!(d["metadata"]["name"].as_str(), Some(args[1]));
            args[1].to_owned()
        })
        .collect();
    assert_eq!(served, known.keys().cloned().collect::<BTreeSet<_>>());

    for service in known.values() {
        let deployment = named(&documents, "Deployment", &service.name).expect("deployment");
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        assert!(selects(&deployment["spec"]["selector"], pod_labels));
        let container = &containers(deployment)[0];
        let env = configured_env(&documents, container);
        let section = service.section.to_ascii_uppercase();
        let port = listen_port(&env[&format!("DOSSIER_{section}_LISTEN")]);
        let grpc_port = list_of(&container["ports"], "ports")
            .iter()
            .find(|p| p["name"] == "grpc")
            .expect("a grpc port");
        assert_eq!(grpc_port["containerPort"], port, "{}: port", service.name);

        let readiness = &container["readinessProbe"]["grpc"];
        assert_eq!(readiness["port"], port, "{}: readiness port", service.name);
        assert_eq!(
            readiness["service"].as_str(),
            Some(service.grpc_service.as_str()),
            "{}: ready when its gRPC service is SERVING",
            service.name
        );
        assert_eq!(
            container["livenessProbe"]["grpc"]["port"], port,
            "{}: liveness through gRPC health",
            service.name
        );
        for side in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                assert!(
                    !container["resources"][side][resource].is_null(),
                    "{}: {side}.{resource}",
                    service.name
                );
            }
        }
        assert_eq!(
            container["securityContext"]["allowPrivilegeEscalation"],
            false
        );
        assert_eq!(
            deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"],
            true
        );

        let svc = named(&documents, "Service", &service.name).expect("a Service");
        assert!(
            selects(&svc["spec"]["selector"], pod_labels),
            "{}: Service selects its pods",
            service.name
        );
        let svc_port = &list_of(&svc["spec"]["ports"], "ports")[0];
        assert_eq!(svc_port["port"], port, "{}: Service port", service.name);
        let expected_type = if service.name == dossier_gateway::SERVICE_NAME {
            "LoadBalancer"
        } else {
            "ClusterIP"
        };
        assert_eq!(
            svc["spec"]["type"].as_str(),
            Some(expected_type),
            "{}",
            service.name
        );

        let pdb = of_kind(&documents, "PodDisruptionBudget")
            .into_iter()
            .find(|p| selects(&p["spec"]["selector"], pod_labels));
        assert!(pdb.is_some(), "{}: a PodDisruptionBudget", service.name);

        let hpa = of_kind(&documents, "HorizontalPodAutoscaler")
            .into_iter()
            .find(|h| h["spec"]["scaleTargetRef"]["name"].as_str() == Some(&service.name));
        match hpa {
            Some(hpa) => {
                assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
                assert!(
                    deployment["spec"].get("replicas").is_none(),
                    "{}: the autoscaler owns the replica count",
                    service.name
                );
            }
            None => assert_eq!(
                deployment["spec"]["replicas"], 1,
                "{}: without an autoscaler, one replica",
                service.name
            ),
        }
    }
    let autoscaled = |name: &str| {
        of_kind(&documents, "HorizontalPodAutoscaler")
            .iter()
            .any(|h| h["spec"]["scaleTargetRef"]["name"].as_str() == Some(name))
    };
    assert!(
        autoscaled(dossier_gateway::SERVICE_NAME),
        "the gateway autoscales"
    );
    // Analytics consumes the change feeds: one consumer, never two side by side.
    assert!(!autoscaled(ANALYTICS));
    let analytics = named(&documents, "Deployment", ANALYTICS).expect("analytics");
    assert_eq!(analytics["spec"]["replicas"], 1);
    assert_eq!(analytics["spec"]["strategy"]["type"], "Recreate");
}

#[test]
fn only_the_gateway_and_the_services_own_callers_reach_a_service() {
    let known = known_services();
    let documents = k8s_documents();
    let policies = of_kind(&documents, "NetworkPolicy");
    assert!(
        policies.iter().any(|p| {
            map_of(&p["spec"]["podSelector"], "podSelector").is_empty()
                && p["spec"]["ingress"].is_null()
                && p["spec"]["egress"].is_null()
                && list_of(&p["spec"]["policyTypes"], "policyTypes").len() == 2
        }),
        "a default-deny policy closes the namespace"
    );
    // Who calls whom, from each service's configured endpoints.
    let mut callers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut callees: BTreeMap<String, BTreeMap<String, u16>> = BTreeMap::new();
    for service in known.values() {
        let deployment = named(&documents, "Deployment", &service.name).expect("deployment");
        let env = configured_env(&documents, &containers(deployment)[0]);
        for (target, (host, port)) in calls(&service.section, &env, &known) {
            assert_eq!(host, target, "{}: {target}'s Service name", service.name);
            callers
                .entry(target.clone())
                .or_default()
                .insert(service.name.clone());
            callees
                .entry(service.name.clone())
                .or_default()
                .insert(target, port);
        }
    }
    let gateway = dossier_gateway::SERVICE_NAME;
    for service in known.values() {
        let deployment = named(&documents, "Deployment", &service.name).expect("deployment");
        let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
        let port = list_of(&containers(deployment)[0]["ports"], "ports")
            .iter()
            .find(|p| p["name"] == "grpc")
            .expect("grpc port")["containerPort"]
            .clone();
        let mine: Vec<&&Value> = policies
            .iter()
            .filter(|p| selects(&p["spec"]["podSelector"], pod_labels))
            .collect();
        assert!(!mine.is_empty(), "{}: a NetworkPolicy", service.name);
        let allowed = callers.get(&service.name).cloned().unwrap_or_default();
        if service.name != gateway {
            assert!(
                allowed.contains(gateway),
                "{}: the gateway calls it",
                service.name
            );
        }
        let mut admitted = BTreeSet::new();
        for policy in &mine {
            for rule in policy["spec"]["ingress"].as_array().into_iter().flatten() {
                let ports = rule["ports"].as_array();
                let opens_grpc = ports.is_none_or(|ports| ports.iter().any(|p| p["port"] == port));
                if !opens_grpc {
                    continue;
                }
                if service.name == gateway {
                    continue; // the public endpoint
                }
                let from = list_of(
                    &rule["from"],
                    "from: a rule opening the gRPC port names its callers",
                );
                for peer in from {
                    assert!(
                        peer.get("namespaceSelector").is_none() && peer.get("ipBlock").is_none(),
                        "{}: only pods of this namespace, by name",
                        service.name
                    );
                    let caller = known
                        .values()
                        .find(|k| {
                            let d = named(&documents, "Deployment", &k.name).expect("deployment");
                            selects(
                                &peer["podSelector"],
                                &d["spec"]["template"]["metadata"]["labels"],
                            )
                        })
                        .unwrap_or_else(|| panic!("{}: a peer that is no service", service.name));
                    assert!(
                        allowed.contains(&caller.name),
                        "{}: {} may call it, but does not need to",
                        service.name,
                        caller.name
                    );
                    admitted.insert(caller.name.clone());
                }
            }
        }
        if service.name != gateway {
            assert_eq!(admitted, allowed, "{}: every caller admitted", service.name);
        }
        // And the callers may leave towards it (egress is closed by default too).
        for (target, target_port) in callees.get(&service.name).into_iter().flatten() {
            let target_labels = &named(&documents, "Deployment", target).expect("target")["spec"]["template"]
                ["metadata"]["labels"];
            let open = mine.iter().any(|policy| {
                policy["spec"]["egress"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|rule| {
                        rule["to"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|peer| selects(&peer["podSelector"], target_labels))
                            && rule["ports"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .any(|p| p["port"] == *target_port)
                    })
            });
            assert!(open, "{}: egress to {target}:{target_port}", service.name);
        }
    }
}

#[test]
fn kubernetes_secrets_are_only_referenced() {
    let keys = Keys::from_code();
    let known = known_services();
    let documents = k8s_documents();
    assert!(
        of_kind(&documents, "Secret").is_empty(),
        "no Secret is committed: the operator creates them"
    );
    for map in of_kind(&documents, "ConfigMap") {
        for (name, value) in map_of(&map["data"], "data") {
            assert!(!keys.is_secret(name), "{name} is a secret in a ConfigMap");
            let value = str_of(value, name);
            assert!(
                !(value.contains("://") && value.contains('@')),
                "{name}: credentials in a URL"
            );
        }
    }
    for service in known.values() {
        let deployment = named(&documents, "Deployment", &service.name).expect("deployment");
        let container = &containers(deployment)[0];
        let mut referenced = BTreeSet::new();
        for entry in container["env"].as_array().into_iter().flatten() {
            let name = str_of(&entry["name"], "env name");
            if keys.is_secret(name) {
                assert!(entry.get("value").is_none(), "{name}: a literal value");
                let reference = &entry["valueFrom"]["secretKeyRef"];
                assert!(
                    reference["name"].is_string() && reference["key"].is_string(),
                    "{name}: from a Secret by reference"
                );
                referenced.insert(name.to_owned());
            }
        }
        let database = format!(
            "DOSSIER_{}_DATABASE_URL",
            service.section.to_ascii_uppercase()
        );
        assert!(
            referenced.contains(&database),
            "{}: {database}",
            service.name
        );
    }
}

#[test]
fn the_kustomization_lists_every_manifest() {
    let kustomization = yaml(&deploy_dir().join("k8s/kustomization.yaml"));
    let listed: BTreeSet<String> = list_of(&kustomization["resources"], "resources")
        .iter()
        .map(|r| str_of(r, "resource").to_owned())
        .collect();
    let present: BTreeSet<String> = k8s_files()
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, present);
}
