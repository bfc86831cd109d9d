"""The transformer's own experiments: its attention pattern, and whether its circuit is the clean one. The circuits
read from the weights are in circuits.py beside this file, the interventions on the head in head_interventions.py.

Example, defaults, seed 42: in "abc <eos>", the query at output 1 puts nearly all its attention on key 3 ("c"), and
the head's OV circuit copies "c" into output 1's logits: output 1 says "c". Attention patterns are read with the
hook blocks.0.attn.hook_pattern, (B, heads, query, key), rows summing to 1.

Convention in every figure here: rows = query = output position (each letter output names the input it copies),
columns = key = input position; the mirror, where a clean reversal puts its attention, is boxed.

"Clean" means every letter query puts at least CLEAN_MASS of its mean attention on its mirrored key. It is a
property of one trained model, not of the design: the same accuracy can come from a different circuit.
"""

import numpy as np
import torch

from .circuits import (annotate, box_cell, key_labels, key_name, mirror_keys, ov_circuit, qk_circuit, query_labels,
                       row_layout)
from ..core.data import add_eos
from ..report.files import save_figure
from ..report.result import Finding, Result
from ..report.wording import span
from .head_interventions import (PATTERN, REPLACEMENTS, HeadInterventions, attention_patching, head_ablation,
                                 pattern_replacement)
from ..core.model import device_of, run_with_cache

SCORES = "blocks.0.attn.hook_attn_scores"  # (B, heads, query, key): the attention scores, before the softmax
CLEAN_MASS = 0.9  # the definition of a clean circuit: each letter row puts at least this on its mirror


def example_sequences(cfg, count=3):
    """A few single sequences to show: the test input, its reverse, and one letter repeated (where only position,
    not letters, can tell the keys apart). Duplicates dropped, e.g. ["abc", "cba", "aaa"]."""
    candidates = [cfg.input, cfg.input[::-1], cfg.vocab[0] * cfg.seq_len, cfg.vocab[-1] * cfg.seq_len]
    return list(dict.fromkeys(candidates))[:count]


class AttentionPatterns(Result):
    """What attention_patterns measured; finding() says where each output looks."""

    def finding(self, head=0):
        mass, lowest = np.array(self["antidiagonal_mass"][head]), np.array(self["lowest_antidiagonal_mass"][head])
        seq_len = len(mass)
        eos = np.array(self["eos_row"][head])
        headline = (f"Averaged over {self['n_sequences']} sequences, each letter output of head {head + 1} puts "
                    f"{span(mass, '.2f')} of its attention on its mirrored input, the one it must copy; <eos> puts "
                    f"{eos[seq_len]:.2f} on itself.")
        numbers = {"lowest_mirror_attention": float(mass.min()), "lowest_in_one_sequence": float(lowest.min()),
                   "eos_self_attention": float(eos[seq_len])}
        evidence = [f"  Attention, head {head + 1}, averaged over {self['n_sequences']} sequences: each letter "
                    f"output's query puts this much of its attention on its mirrored input (the anti-diagonal): "
                    + ", ".join(f"output {j + 1} on input {seq_len - j}: {m:.3f}" for j, m in enumerate(mass))
                    + f". In single sequences at least {lowest.min():.3f}."]
        if seq_len % 2:
            middle = seq_len // 2
            evidence.append(f"  The middle position {middle + 1} is its own mirror: reversing leaves its letter in "
                            f"place, so its anti-diagonal cell is attention to itself ({mass[middle]:.3f}); it is the "
                            f"only letter output whose letter is also in its own residual stream, without any "
                            f"attention.")
        top = int(eos.argmax())
        evidence.append(f"  <eos> (query {seq_len + 1}) puts {eos[seq_len]:.3f} of its attention on itself"
                        + ("." if top == seq_len else f" and most, {eos[top]:.3f}, on {key_name(top, seq_len)}.")
                        + " Its answer is always <eos>, so training needs only that what it reads says <eos>: no key "
                          "is forced on it.")
        return Finding(headline, numbers, evidence)


def attention_patterns(model, sequences, vocab, examples=()):
    """The attention pattern averaged over the sequences, and for a few single ones. Returns an AttentionPatterns,
    as lists:
        "mean_pattern": (H, T, T) row = query, column = key
        "antidiagonal_mass": (H, L) each letter query's mean attention on its mirrored key
        "lowest_antidiagonal_mass": (H, L) the same, in the sequence where it is lowest
        "lowest_mirror_lead": (H, L) each letter row's attention score (before the softmax) on its mirror minus the
                 best other key's, in the sequence where that lead is smallest: positive if the mirror wins the row
                 in every sequence
        "mirror_wins": (H, L) the share of sequences in which the mirror has the row's highest score
        "eos_row": (H, T) the <eos> query's mean attention on each key
        "n_sequences": N
        "examples": {letters: (H, T, T)} for each of `examples`, for the figure only
    """
    seq_len = sequences.shape[1]
    device = device_of(model)
    _, cache = run_with_cache(model, add_eos(sequences, vocab.eos_id).to(device), [PATTERN, SCORES])
    pattern, scores = cache[PATTERN].cpu(), cache[SCORES].cpu()  # (N, H, T, T) each
    letters, mirror = torch.arange(seq_len), torch.tensor(mirror_keys(seq_len))[:seq_len]
    on_mirror = pattern[:, :, letters, mirror]  # (N, H, L)
    # the mirror's score minus the best other key's, in each letter row of each sequence: positive where the mirror
    # gets the most attention; a lead of m gives it at least e^m times the attention of any other key
    letter_rows = scores[:, :, :seq_len]  # (N, H, L, T)
    others = letter_rows.clone()
    others[:, :, letters, mirror] = -torch.inf
    lead = letter_rows[:, :, letters, mirror] - others.amax(-1)  # (N, H, L)
    mean = pattern.mean(0)  # (H, T, T)
    examples_pattern = {}
    if examples:
        tokens = add_eos(torch.tensor([vocab.encode(text) for text in examples]), vocab.eos_id).to(device)
        _, cache = run_with_cache(model, tokens, [PATTERN])
        examples_pattern = {text: cache[PATTERN][n].cpu().tolist() for n, text in enumerate(examples)}
    return AttentionPatterns({"mean_pattern": mean.tolist(), "antidiagonal_mass": on_mirror.mean(0).tolist(),
                              "lowest_antidiagonal_mass": on_mirror.amin(0).tolist(),
                              "lowest_mirror_lead": lead.amin(0).tolist(),
                              "mirror_wins": (lead > 0).float().mean(0).tolist(),
                              "eos_row": mean[:, seq_len].tolist(), "n_sequences": len(sequences)},
                             {"examples": examples_pattern})


class CircuitVerdict(Result):
    """What circuit_verdict decided; finding() says clean or not, and what the model does instead."""

    def kind(self):
        """What two circuits are compared by: "clean", "mirror" (the mirror wins every letter row, with less than the
        threshold on it somewhere) or "other"; whether <eos> attends most to itself; the forced anti-diagonal's
        accuracy."""
        circuit = "clean" if self["clean"] else "mirror" if self["mirror_wins_every_row"] else "other"
        return {"circuit": circuit, "eos_on_itself": self["eos_key"] == len(self["mirror_mass"]),
                "antidiagonal_accuracy": self["antidiagonal_accuracy"]}

    def finding(self):  # for the head circuit_verdict was asked about
        mass, lead = self["mirror_mass"], self["mirror_lead"]
        seq_len = len(mass)
        numbers = {"clean": int(self["clean"]), "lowest_mirror_attention": float(min(mass)),
                   "threshold": self["threshold"], "antidiagonal_forced": self["antidiagonal_accuracy"],
                   "mirror_wins_every_row": int(self["mirror_wins_every_row"]), "lowest_mirror_lead": float(min(lead))}
        test = f"every letter output puts at least {self['threshold']} of its attention on its mirrored input"
        wins = (f"in every letter row of all {self['n_sequences']} sequences the mirror's attention score leads every "
                f"other key's by at least {min(lead):.2f}")
        if self["clean"]:
            headline = (f"The circuit is clean by our test: every letter output puts at least {min(mass):.3f} of its "
                        f"attention on its mirrored input, above the {self['threshold']} the test asks.")
            evidence = [f"  Circuit: clean by our test ({test}; here {min(mass):.3f} at least), and <eos> puts "
                        f"{self['eos_self_mass']:.3f} on itself."]
            if self["mirror_wins_every_row"]:
                evidence.append(f"  And {wins}.")
            caveats = ["  This verdict is for this seed only: train others to compare (the notebook's exercise)."]
            return Finding(headline, numbers, evidence, caveats)
        weak = self["weak_rows"]
        rows = ", ".join(f"output {w['output'] + 1} {w['mirror_mass']:.3f}" for w in weak)
        forced = self._forced_line()
        if self["mirror_wins_every_row"]:  # the mirror circuit, only softer than the cut-off
            headline = (f"The mirror circuit, softer than our test: the mirror has the top attention score in every "
                        f"letter row of all {self['n_sequences']} sequences (lead at least {min(lead):.2f}), yet "
                        f"{len(weak)} of {seq_len} letter outputs average under {self['threshold']} on it.")
            evidence = [f"  Circuit: the mirror wins every row, but not clean by our test ({test}): {rows}."]
            if self["antidiagonal_accuracy"] >= self["accuracy"]:  # the clean pattern does as well: the rest is blur
                evidence[0] += " The rest of the attention blurs the copy without outvoting it."
                return Finding(headline, numbers, evidence + [forced])
            evidence[0] += (" The rest of the attention never outvotes the mirror, yet the model needs it: forced "
                            "onto the exact anti-diagonal it gets fewer right (below). What the rest reads:")
            return Finding(headline, numbers, evidence + self._instead() + [forced])
        accuracy = self["accuracy"]
        headline = (f"The circuit is NOT clean by our test: {len(weak)} of {seq_len} letter outputs put under "
                    f"{self['threshold']} of their attention on their mirror, and in some sequence another key "
                    f"outscores the mirror; the model gets {accuracy:.0%} of these sequences right.")
        losing = [j + 1 for j, value in enumerate(lead) if value <= 0]
        evidence = [f"  Circuit: NOT clean by our test ({test}): {rows}; in output{'s' if len(losing) > 1 else ''} "
                    f"{', '.join(map(str, losing))} another key outscores the mirror in some sequence. The model gets "
                    f"{accuracy:.0%} of these sequences right. What it does instead (numbers from this seed):"]
        return Finding(headline, numbers, evidence + self._instead() + [forced])

    def _instead(self):
        """Where the attention off the mirror goes, and what the values there push: lines."""
        push, seq_len, weak = self["value_eos_push"], len(self["mirror_mass"]), self["weak_rows"]
        evidence = []
        key = self["eos_key"]
        if key != seq_len:
            evidence.append(f"  <eos> (query {seq_len + 1}) puts {self['eos_mass']:.2f} of its attention on "
                            f"{key_name(key, seq_len)}, and {self['eos_self_mass']:.2f} on itself. What it reads "
                            f"there pushes the <eos> logit {push[key]:+.1f} against the letters' mean (W_V W_O W_U of "
                            f"that key's residual, averaged over the letters there); <eos>'s own key would push "
                            f"{push[seq_len]:+.1f}.")
        else:
            evidence.append(f"  <eos> attends to itself ({self['eos_self_mass']:.2f}); its key pushes the <eos> logit "
                            f"{push[seq_len]:+.1f}.")
        for w in weak:
            mirror = seq_len - 1 - w["output"]
            other = w["other_key"]
            sentence = (f"  Output {w['output'] + 1} puts {w['mirror_mass']:.2f} on its mirror (input {mirror + 1}) "
                        f"and {w['other_mass']:.2f} on {key_name(other, seq_len)}, whose value pushes <eos> "
                        f"{push[other]:+.1f}")
            if push[mirror] > 0 > push[other]:
                sentence += f": that cancels part of the {push[mirror]:+.1f} <eos> push its mirror's value carries."
            else:
                sentence += f" (its mirror's value: {push[mirror]:+.1f})."
            evidence.append(sentence)
        return evidence

    def _forced_line(self):
        """What forcing the exact anti-diagonal pattern does, said against the model's own pattern's accuracy."""
        forced, own = self["antidiagonal_accuracy"], self["accuracy"]
        if forced == own == 0:
            why = "neither it nor the model's own pattern gets any sequence right, so there is no circuit to name."
        elif forced < own:
            why = (f"fewer than the {own:.0%} of its own pattern: the values were learned for the pattern this model "
                   f"has, not for the clean one.")
        elif forced == own:
            why = ("the same as its own pattern: the values work with the clean pattern too, so this pattern is a "
                   "blurred copy of the clean one.")
        else:
            why = (f"more than the {own:.0%} of its own pattern: the values work better with the clean pattern than "
                   f"with the one this model has.")
        return f"  Forcing the exact anti-diagonal pattern leaves {forced:.0%} of sequences right, {why}"


def circuit_verdict(patterns, ov, replacement, head=0):
    """Is the circuit the clean one? Every letter query puts at least CLEAN_MASS of its mean attention on its mirror.

    The continuous measures beside that cut-off: "mirror_lead" (L,), each letter row's smallest lead of the mirror's
    attention score over the best other key's, over every sequence, and "mirror_wins_every_row" (every lead > 0).

    Returns a CircuitVerdict: {"clean", "threshold", "head", "mirror_mass": (L,), "weak_rows": [{"output",
    "mirror_mass", "other_key", "other_mass"}] for each letter row below the threshold (other_key: where most of the
    rest goes), "eos_key", "eos_mass" (<eos>'s favourite key and its attention there), "eos_self_mass",
    "value_eos_push": (T,) from circuits.ov_circuit, "antidiagonal_accuracy", "accuracy"}."""
    mass = patterns["antidiagonal_mass"][head]
    mean = np.array(patterns["mean_pattern"][head])  # (T, T)
    seq_len = len(mass)
    weak = []
    for j, key in enumerate(mirror_keys(seq_len)[:seq_len]):
        if mass[j] < CLEAN_MASS:
            rest = mean[j].copy()
            rest[key] = -1
            weak.append({"output": j, "mirror_mass": mass[j], "other_key": int(rest.argmax()),
                         "other_mass": float(rest.max())})
    eos = mean[seq_len]
    lead = patterns["lowest_mirror_lead"][head]  # (L,) the mirror's smallest lead in each letter row
    return CircuitVerdict({"clean": not weak, "threshold": CLEAN_MASS, "head": head, "mirror_mass": mass,
                           "mirror_lead": lead, "mirror_wins_every_row": bool(min(lead) > 0),
                           "n_sequences": patterns["n_sequences"],
                           "weak_rows": weak, "eos_key": int(eos.argmax()), "eos_mass": float(eos.max()),
                           "eos_self_mass": float(eos[seq_len]), "value_eos_push": ov["value_eos_push"][head],
                           "antidiagonal_accuracy": replacement["antidiagonal"]["sequence_accuracy"],
                           "accuracy": replacement["baseline"]["sequence_accuracy"]})


def _pattern_panel(ax, pattern, seq_len, title, show_queries):
    """One attention pattern, rows = query, columns = key, numbers in the cells, the mirror boxed."""
    image = ax.imshow(pattern, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
    if seq_len <= 8:
        annotate(ax, pattern, ".2f", -1)  # dark everywhere but the brightest cells: white, except near 1
        for text, value in zip(ax.texts, np.asarray(pattern).flat):
            text.set_color("black" if value > 0.6 else "white")
    for query, key in enumerate(mirror_keys(seq_len)):
        ax.add_patch(box_cell(query, key, "red"))
    ax.set_xticks(range(seq_len + 1), key_labels(seq_len), fontsize=7)
    ax.set_yticks(range(seq_len + 1), query_labels(seq_len) if show_queries else [], fontsize=7)
    ax.set_xlabel("key (input position)", fontsize=8)
    ax.set_title(title, fontsize=8)
    return image


def plot_patterns(patterns, path, head=0):
    """The mean attention pattern and a few single sequences, side by side, the mirror boxed in red."""
    panels = [(patterns["mean_pattern"][head], f"mean over {patterns['n_sequences']} sequences")]
    panels += [(pattern[head], f"'{text} <eos>'") for text, pattern in patterns["examples"].items()]
    seq_len = len(panels[0][0]) - 1
    side = 0.42 * (seq_len + 1) + 0.5
    widths = [1.3] + [side, 0.25] * len(panels) + [0.12, 1.0]
    fig, place = row_layout(widths, [(0.75, side)], top=0.95)
    for n, (pattern, title) in enumerate(panels):
        ax = place(1 + 2 * n)
        image = _pattern_panel(ax, np.array(pattern), seq_len, title, show_queries=n == 0)
    fig.axes[0].set_ylabel("query (output position)", fontsize=8)
    fig.colorbar(image, cax=place(len(widths) - 2), label="attention")
    mass = patterns["antidiagonal_mass"][head]
    fig.suptitle(f"Attention pattern, head {head + 1}: each output's query on each input's key. Red box: the mirror.\n"
                 f"Mean attention on the mirror, letter outputs: {' '.join(f'{m:.2f}' for m in mass)}; <eos> on "
                 f"itself {patterns['eos_row'][head][seq_len]:.2f}", fontsize=9)
    save_figure(fig, path)


def plot_circuit_comparison(entries, path):
    """Two (or more) trained models side by side: each one's mean pattern, and below it what the value at each key
    does to <eos>. entries: [(label, patterns, verdict)], e.g. [("seed 42", ...), ("seed 0", ...)]."""
    seq_len = len(entries[0][1]["mean_pattern"][0]) - 1
    if any(len(patterns["mean_pattern"][0]) != seq_len + 1 for _, patterns, _ in entries):
        raise ValueError("plot_circuit_comparison compares models of one sequence length")
    side = 0.42 * (seq_len + 1) + 0.5
    widths = [1.3] + [side, 0.9] * len(entries)
    widths[-1] = 0.3  # the colour bar's gap
    widths += [0.12, 1.0]
    fig, place = row_layout(widths, [(0.75, 1.3), (0.85, side)], top=1.0)
    push_top = max(np.abs(verdict["value_eos_push"]).max() for _, _, verdict in entries) * 1.15
    for n, (label, patterns, verdict) in enumerate(entries):
        head = verdict["head"]
        state = {"clean": "clean", "mirror": "mirror, softer", "other": "NOT clean"}[verdict.kind()["circuit"]]
        title = (f"{label}: {state}, {verdict['accuracy']:.0%} right\nmirror {min(verdict['mirror_mass']):.3f} at "
                 f"least; <eos> on itself {verdict['eos_self_mass']:.2f}")
        image = _pattern_panel(place(1 + 2 * n, 1), np.array(patterns["mean_pattern"][head]), seq_len, title,
                               show_queries=n == 0)
        ax = place(1 + 2 * n, 0)
        push = np.array(verdict["value_eos_push"])
        ax.bar(range(seq_len + 1), push, color=np.where(push > 0, "tab:red", "tab:blue"))
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_ylim(-push_top, push_top)
        ax.set_xlim(-0.5, seq_len + 0.5)
        ax.set_xticks(range(seq_len + 1), key_labels(seq_len), fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_xlabel("key whose value is read", fontsize=8)
        if n == 0:
            ax.set_ylabel("<eos> push\n(logit minus\nletters' mean)", fontsize=8)
    fig.axes[0].set_ylabel("query (output position)", fontsize=8)
    fig.colorbar(image, cax=place(len(widths) - 2, 1), label="mean attention")
    fig.suptitle("Two trained circuits: the mean attention pattern (top, mirror boxed in red), and what\n"
                 "the value at each key pushes onto the <eos> logit (bottom)", fontsize=9)
    save_figure(fig, path)


class AttentionExperiments(Result):
    """Every experiment on one trained transformer. The values are what metrics.json keeps, per head where a head is
    involved; the parts, each a result with its own finding, are under "patterns", "qk", "ov", "interventions"
    (ablation, replacement, patching) and "verdict"."""

    def finding(self, head=0):
        """One computed headline, then each part's finding in the lesson's order: pattern, QK, OV, interventions,
        verdict."""
        verdict, ablation = self["verdict"], self["interventions"]["ablation"]
        untouched = ablation["baseline"]["sequence_accuracy"]
        zeroed = ablation["heads"][head]["zero"]["sequence_accuracy"]
        headline = (f"The transformer gets {untouched:.0%} of sequences right, {zeroed:.0%} with its head zeroed; "
                    f"its letter outputs put at least {min(verdict['mirror_mass']):.3f} of their attention on their "
                    f"mirrored inputs: " + {"clean": "a clean circuit by our test.",
                                            "mirror": "the mirror circuit, softer than our test (the mirror wins "
                                                      "every letter row).",
                                            "other": "NOT the clean circuit by our test."}[verdict.kind()["circuit"]])
        numbers = {"sequences_right": untouched, "head_zeroed": zeroed,
                   "lowest_mirror_attention": float(min(verdict["mirror_mass"])), "clean": int(verdict["clean"])}
        parts = (self["patterns"].finding(head) + self["qk"].finding(head) + self["ov"].finding(head)
                 + self["interventions"].finding(head) + verdict.finding())
        return Finding(headline, numbers, [parts.headline] + parts.evidence, parts.caveats)


def attention_experiments(run):
    """Every experiment of this module, circuits.py and head_interventions.py on one trained transformer, run.model,
    on run.sequences. Returns an AttentionExperiments: its values the `attention` entry of metrics.json (lists and
    numbers only, per head where a head is involved), its parts each as its function returns it."""
    model, vocab, sequences = run.model, run.vocab, run.sequences
    patterns = attention_patterns(model, sequences, vocab, example_sequences(run.cfg))
    qk, ov = qk_circuit(model), ov_circuit(model)
    ablation = head_ablation(model, sequences, vocab, run.data.train_sequences, run.seed)
    replacement = pattern_replacement(model, sequences, vocab, run.seed)
    patching = attention_patching(model, sequences, vocab)
    verdict = circuit_verdict(patterns, ov, replacement)
    values = {"mean_pattern": patterns["mean_pattern"], "antidiagonal_mass": patterns["antidiagonal_mass"],
              "lowest_antidiagonal_mass": patterns["lowest_antidiagonal_mass"], "eos_row": patterns["eos_row"],
              "lowest_mirror_lead": patterns["lowest_mirror_lead"], "mirror_wins": patterns["mirror_wins"],
              "circuit_kind": verdict.kind()["circuit"],
              "qk_positional_argmax_is_mirror": qk["positional_argmax_is_mirror"],
              "qk_positional_margin": qk["positional_margin"], "qk_token_range": qk["token_range"],
              "qk_worst_margin": qk["worst_margin"],
              "ov_diagonal_argmax_rows": ov["diagonal_argmax_rows"], "ov_value_eos_push": ov["value_eos_push"],
              "antidiagonal_replacement_accuracy": replacement["antidiagonal"]["sequence_accuracy"],
              "pattern_replacement": {kind: replacement[kind] for kind in REPLACEMENTS},
              "head_ablation": ablation["heads"], "unablated": ablation["baseline"],
              "patching": patching, "circuit": verdict}
    interventions = HeadInterventions({"ablation": ablation, "replacement": replacement, "patching": patching})
    return AttentionExperiments(values, {"patterns": patterns, "qk": qk, "ov": ov, "interventions": interventions,
                                         "verdict": verdict})
