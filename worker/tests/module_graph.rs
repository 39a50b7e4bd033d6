//! The worker's modules depend on each other one way only: every `crate::<module>` a file names
//! (in `use` lists or paths) is an edge from the file's top-level module, and the graph has no
//! cycle. A new import that closes a cycle fails here with the cycle spelled out.

use std::{
	collections::{BTreeMap, BTreeSet},
	path::Path,
};

/// The top-level modules named after `crate::` in `source`, including those inside `{…}` lists.
fn crate_refs(source: &str) -> BTreeSet<String> {
	let mut out = BTreeSet::new();
	let code: String =
		source.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
	let mut rest = code.as_str();
	while let Some(at) = rest.find("crate::") {
		rest = &rest[at + "crate::".len()..];
		if let Some(list) = rest.strip_prefix('{') {
			// A use list: the first identifier of each top-level item.
			let (mut depth, mut item_start, mut end) = (0usize, true, list.len());
			for (i, c) in list.char_indices() {
				match c {
					'{' => depth += 1,
					'}' if depth == 0 => {
						end = i;
						break;
					}
					'}' => depth -= 1,
					',' if depth == 0 => item_start = true,
					c if item_start && (c.is_alphanumeric() || c == '_') => {
						let ident: String = list[i..]
							.chars()
							.take_while(|c| c.is_alphanumeric() || *c == '_')
							.collect();
						out.insert(ident);
						item_start = false;
					}
					_ => {}
				}
			}
			rest = &list[end..];
		} else {
			let ident: String =
				rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
			if !ident.is_empty() {
				out.insert(ident);
			}
		}
	}
	out
}

fn collect(dir: &Path, top: Option<&str>, graph: &mut BTreeMap<String, BTreeSet<String>>) {
	for entry in std::fs::read_dir(dir).unwrap() {
		let path = entry.unwrap().path();
		let name = path.file_stem().unwrap().to_string_lossy().to_string();
		if path.is_dir() {
			// `cli/` belongs to the binary, not the library.
			if top.is_none() && name == "cli" {
				continue;
			}
			collect(&path, Some(top.unwrap_or(&name)), graph);
		} else if path.extension().is_some_and(|e| e == "rs") {
			let module = top.map(str::to_string).unwrap_or(name.clone());
			if top.is_none() && (name == "lib" || name == "main") {
				continue;
			}
			let refs = crate_refs(&std::fs::read_to_string(&path).unwrap());
			let edges = graph.entry(module.clone()).or_default();
			edges.extend(refs.into_iter().filter(|r| *r != module));
		}
	}
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
	fn visit(
		node: &str,
		graph: &BTreeMap<String, BTreeSet<String>>,
		path: &mut Vec<String>,
		done: &mut BTreeSet<String>,
	) -> Option<Vec<String>> {
		if let Some(i) = path.iter().position(|p| p == node) {
			let mut cycle = path[i..].to_vec();
			cycle.push(node.to_string());
			return Some(cycle);
		}
		if done.contains(node) {
			return None;
		}
		path.push(node.to_string());
		for next in graph.get(node).into_iter().flatten() {
			if let Some(c) = visit(next, graph, path, done) {
				return Some(c);
			}
		}
		path.pop();
		done.insert(node.to_string());
		None
	}
	let mut done = BTreeSet::new();
	graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_parser_sees_lists_paths_and_cycles() {
	let refs = crate_refs("use crate::{a::b, c, d::{e, f}};\nlet x = crate::g::h(); // crate::no");
	assert_eq!(refs, ["a", "c", "d", "g"].iter().map(|s| s.to_string()).collect());
	let cyclic = BTreeMap::from([
		("a".to_string(), BTreeSet::from(["b".to_string()])),
		("b".to_string(), BTreeSet::from(["a".to_string()])),
	]);
	assert_eq!(find_cycle(&cyclic), Some(vec!["a".into(), "b".into(), "a".into()]));
}

#[test]
fn worker_modules_have_no_cycles() {
	let mut graph = BTreeMap::new();
	collect(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), None, &mut graph);
	for module in ["kernel", "p2p", "collective", "train", "error", "infer", "store"] {
		assert!(graph.contains_key(module), "{module} not found: {graph:?}");
	}
	assert!(graph["collective"].contains("p2p"), "{graph:?}");
	assert_eq!(find_cycle(&graph), None, "module graph: {graph:#?}");
}
