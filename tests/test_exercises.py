"""The exercises (reversal/exercises/): every solution passes its check, each check answers wrong versions with the
message meant for them, a stub says it is not written yet, and the runner prints one line per exercise.

The wrong versions are the mistakes students make, written as a student would, from the solution with one thing
changed; the phrase each test expects is the part of the message that names the mistake."""

import inspect
import math
import re
import textwrap

import pytest
import torch

from reversal.core.common import margin
from reversal.core.data import add_eos
from reversal.core.model import hook_count, hooks, run_with_cache, run_with_hooks
from reversal.core.run import start_run
from reversal.exercises import EXERCISES, ablate, direction, hook, ov, patch, pattern, solutions, steer
from reversal.exercises import __main__ as exercises_main
from reversal.exercises import checking
from reversal.exercises.checking import Wrong, check, model_kind, verdict
from reversal.mlp.subspaces import logit_difference
from reversal.support.config import Config

from conftest import ROOT


def run_of(exercise, run, transformer_run):
    """The run the exercise's check reads, as the runner picks it: the transformer's where the exercise says so."""
    return transformer_run if model_kind(exercise) == "transformer" else run


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda exercise: exercise.TITLE)
def test_the_solution_passes(exercise, run, transformer_run):
    line = verdict(exercise, getattr(solutions, exercise.FUNCTION), run_of(exercise, run, transformer_run),
                   "solutions.py")
    assert line.endswith(": passed"), line


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda exercise: exercise.TITLE)
def test_a_stub_is_not_written_yet(exercise, run, transformer_run):
    line = verdict(exercise, getattr(exercise, exercise.FUNCTION), run_of(exercise, run, transformer_run), "the stubs")
    assert line == (f"{exercise.NUMBER} {exercise.TITLE}: not written yet ({exercise.FUNCTION} still raises "
                    f"NotImplementedError, the stubs)"), line


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda exercise: exercise.TITLE)
def test_each_exercise_says_how_hard_and_how_long(exercise):
    assert exercise.DIFFICULTY in (1, 2, 3) and 0 < exercise.MINUTES <= 20 and exercise.HINT
    assert EXERCISES.index(exercise) + 1 == exercise.NUMBER, "EXERCISES is in lesson order, numbered from 1"


def test_an_error_in_the_students_code_is_one_line(run):
    line = verdict(direction, lambda activations, *_: activations.nonexistent, run, "mine.py")
    assert line.startswith("3 direction: letter_direction raised AttributeError") and "\n" not in line


def wrong_message(exercise, student_fn, run):
    with pytest.raises(Wrong) as wrong:
        exercise.check(student_fn, run)
    return str(wrong.value)


# Exercise 1, the hook: one that replaces where it should read, one on the layer before the ReLU, one whose cache
# keeps the graph, one left attached.

def cache_with(name="hidden1", store=lambda output: output.detach(), returned=lambda output: None, no_grad=True):
    def cache_hidden1(model, tokens):
        cache = {}

        def read(output):
            cache["hidden1"] = store(output)
            return returned(output)

        with torch.set_grad_enabled(not no_grad), hooks(model, {name: read}):
            logits = model(tokens)
        return logits, cache["hidden1"]
    return cache_hidden1


def test_a_hook_that_returns_a_value_is_told(run):
    message = wrong_message(hook, cache_with(returned=torch.zeros_like), run)
    assert "does your hook return a value?" in message, message


def test_a_hook_before_the_relu_is_told(run):
    assert "did you hook linear1, before the ReLU?" in wrong_message(hook, cache_with(name="linear1"), run)


def test_a_cache_that_keeps_the_graph_is_told(run):
    message = wrong_message(hook, cache_with(store=lambda output: output, no_grad=False), run)
    assert "store output.detach()" in message, message


def test_a_hook_left_attached_is_told(run):
    def cache_hidden1(model, tokens):
        cache = {}
        model.hidden1.register_forward_hook(lambda module, inputs, output: cache.update(hidden1=output.detach()))
        with torch.no_grad():
            return model(tokens), cache["hidden1"]
    assert "a hook is still attached" in wrong_message(hook, cache_hidden1, run)
    assert hook_count(run.model) == 0, "the check takes the student's hook off: the session's model is shared"


# Exercise 2, zero ablation: a hook that returns nothing, the <eos> output kept, the margin against every logit.

def ablate_with(returns=True, outputs=lambda tokens: tokens.shape[1] - 1, measure=margin):
    def zero_ablate(model, tokens, targets, neuron):
        def zero(output):
            out = output.clone()
            out[:, neuron] = 0
            return out if returns else None

        kept = outputs(tokens)
        logits = run_with_hooks(model, tokens, {"hidden1": zero})[:, :kept]
        return (logits.argmax(-1) == targets[:, :kept]).float().mean(0), measure(logits, targets[:, :kept]).mean(0)
    return zero_ablate


def test_an_ablation_hook_that_returns_nothing_is_told(run):
    assert "does your hook return the changed copy?" in wrong_message(ablate, ablate_with(returns=False), run)


def test_the_eos_output_kept_is_told(run):
    message = wrong_message(ablate, ablate_with(outputs=lambda tokens: tokens.shape[1]), run)
    assert "leave out the <eos> output" in message, message


def test_a_margin_against_every_logit_is_told(run):
    largest = lambda logits, targets: logits.gather(-1, targets[..., None])[..., 0] - logits.amax(-1)
    message = wrong_message(ablate, ablate_with(measure=largest), run)
    assert "the correct one included?" in message, message


def test_a_zeroed_sequence_rather_than_neuron_is_told(run):
    def zero_ablate(model, tokens, targets, neuron):
        def zero(output):
            out = output.clone()
            out[neuron] = 0  # row `neuron`: one sequence, every neuron
            return out
        logits = run_with_hooks(model, tokens, {"hidden1": zero})[:, :-1]
        return (logits.argmax(-1) == targets[:, :-1]).float().mean(0), margin(logits, targets[:, :-1]).mean(0)
    assert "zero column `neuron` of hidden1" in wrong_message(ablate, zero_ablate, run)


# Exercise 3, the class-mean direction: a mean over the wrong axis, the overall mean not subtracted.

def test_a_mean_over_the_neurons_is_told(run):
    wrong_axis = lambda acts, sequences, position, letter: (acts[sequences[:, position] == letter].mean(1)
                                                            - acts.mean(1))
    assert "did you average over the neurons (axis 1)?" in wrong_message(direction, wrong_axis, run)


def test_a_scalar_mean_is_told(run):
    everything = lambda acts, sequences, position, letter: acts[sequences[:, position] == letter].mean() - acts.mean()
    assert "return one number per neuron" in wrong_message(direction, everything, run)


def test_a_class_mean_left_uncentred_is_told(run):
    uncentred = lambda acts, sequences, position, letter: acts[sequences[:, position] == letter].mean(0)
    assert "subtract the mean over all the sequences" in wrong_message(direction, uncentred, run)


def test_the_mean_of_the_other_sequences_subtracted_is_told(run):
    def one_against_the_rest(activations, sequences, position, letter):
        has = sequences[:, position] == letter
        return activations[has].double().mean(0) - activations[~has].double().mean(0)
    message = wrong_message(direction, one_against_the_rest, run)
    assert "you subtract the mean of the other sequences" in message, message


# Exercise 4, subspace patching: the wrong direction, the mirror taken as i, a hook that returns nothing.

def patch_with(into_clean=False, mirror=True, returns=True, ratio_of_sums=True, cast=True):
    def patch_position(model, subspaces, clean, corrupted, eos_id, position):
        clean_tokens, corrupt_tokens = add_eos(clean, eos_id), add_eos(corrupted, eos_id)
        clean_logits, clean_cache = run_with_cache(model, clean_tokens, ("hidden1",))
        corrupt_logits, corrupt_cache = run_with_cache(model, corrupt_tokens, ("hidden1",))
        donor = corrupt_cache if into_clean else clean_cache
        donor_part = subspaces.components(donor["hidden1"])[:, position]

        def replace(out):
            patched = out.double() - subspaces.components(out)[:, position] + donor_part
            patched = patched.float() if cast else patched
            return patched if returns else None

        patched_logits = run_with_hooks(model, clean_tokens if into_clean else corrupt_tokens, {"hidden1": replace})
        good, bad = (clean.flip(1), corrupted.flip(1)) if mirror else (clean, corrupted)
        ld = lambda logits: logit_difference(logits, good, bad)
        restored, whole = ld(patched_logits) - ld(corrupt_logits), ld(clean_logits) - ld(corrupt_logits)  # (P, L)
        return restored.sum(0) / whole.sum(0) if ratio_of_sums else (restored / whole).mean(0)
    return patch_position


def test_a_patch_corrupted_into_clean_is_told(run):
    message = wrong_message(patch, patch_with(into_clean=True), run)
    assert "did you patch the corrupted run's activation into the clean run" in message, message


def test_a_mean_of_each_pairs_ratio_is_told(run):
    message = wrong_message(patch, patch_with(ratio_of_sums=False), run)
    assert "you average each pair's own ratio; the share is one ratio of sums" in message, message


def test_a_float64_activation_handed_back_is_named_in_one_line(run):
    line = verdict(patch, patch_with(cast=False), run, "mine.py")
    assert "raised RuntimeError" in line and "did you hand it float64 (a hook's return, say)?" in line, line


def test_the_mirror_taken_as_i_is_told(run):
    assert "output j's letter is input L-1-j's (the mirror)" in wrong_message(patch, patch_with(mirror=False), run)


def test_a_patching_hook_that_returns_nothing_is_told(run):
    assert "does your hook return the patched activation?" in wrong_message(patch, patch_with(returns=False), run)


# Exercise 5, the attention pattern: no 1/sqrt(d_head), the softmax over the queries, W_Q and W_K swapped, a causal
# mask this model does not have, the residual after the attention, the token embeddings without the positions, every
# head at once.

def pattern_with(name=pattern.RESID_PRE, scale=True, axis=-1, swap=False, causal=False):
    def attention_pattern(model, tokens, head):
        _, cache = run_with_cache(model, tokens, (name,))
        attn = model.blocks[0].attn
        query, key = (attn.W_K[head], attn.W_Q[head]) if swap else (attn.W_Q[head], attn.W_K[head])
        q, k = cache[name] @ query, cache[name] @ key
        scores = q @ k.transpose(-1, -2) / (math.sqrt(q.shape[-1]) if scale else 1)
        if causal:
            scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), -torch.inf)
        return scores.softmax(dim=axis)
    return attention_pattern


def test_scores_not_scaled_are_told(transformer_run):
    message = wrong_message(pattern, pattern_with(scale=False), transformer_run)
    assert "did you divide the scores q k^T by sqrt(d_head)" in message, message


def test_a_softmax_over_the_queries_is_told(transformer_run):
    message = wrong_message(pattern, pattern_with(axis=-2), transformer_run)
    assert "you took the softmax over the queries" in message, message


def test_query_and_key_swapped_are_told(transformer_run):
    assert "did you swap them?" in wrong_message(pattern, pattern_with(swap=True), transformer_run)


def test_a_causal_mask_is_told(transformer_run):
    message = wrong_message(pattern, pattern_with(causal=True), transformer_run)
    assert "this transformer has no causal mask" in message, message


def test_the_residual_after_the_attention_is_told(transformer_run):
    message = wrong_message(pattern, pattern_with(name="blocks.0.hook_resid_post"), transformer_run)
    assert "the residual stream after the attention" in message, message


def test_the_embeddings_without_the_positions_are_told(transformer_run):
    message = wrong_message(pattern, pattern_with(name="hook_embed"), transformer_run)
    assert "the token embeddings alone" in message, message


def test_every_head_at_once_is_told(transformer_run):
    def attention_pattern(model, tokens, head):  # the model's own einsums: (N, heads, T, T)
        _, cache = run_with_cache(model, tokens, (pattern.RESID_PRE,))
        attn = model.blocks[0].attn
        q, k = (torch.einsum("btd,hde->bhte", cache[pattern.RESID_PRE], weight) for weight in (attn.W_Q, attn.W_K))
        return (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(dim=-1)
    assert "with an axis for the heads" in wrong_message(pattern, attention_pattern, transformer_run)


# Exercise 6, the OV circuit: transposed, W_V and W_O in the wrong order, W_O or W_V left out, a positional embedding
# added, W_U over the whole vocabulary.

def ov_with(order=("W_V", "W_O"), transposed=False, position=None, letter_columns=True):
    def ov_letters(model, n_letters, head):
        attn = model.blocks[0].attn
        embed = model.embed.W_E[:n_letters]
        if position is not None:
            embed = embed + model.pos_embed.W_pos[position]
        unembed = model.unembed.W_U[:, :n_letters] if letter_columns else model.unembed.W_U
        circuit = embed
        for name in order:
            circuit = circuit @ getattr(attn, name)[head]
        circuit = (circuit @ unembed).detach()
        return circuit.T if transposed else circuit
    return ov_letters


def test_a_transposed_ov_circuit_is_told(transformer_run):
    assert "you have the transpose" in wrong_message(ov, ov_with(transposed=True), transformer_run)


def test_w_o_before_w_v_is_told(transformer_run):
    message = wrong_message(ov, ov_with(order=("W_O", "W_V")), transformer_run)
    assert "W_O and W_V are the wrong way round" in message, message


def test_w_o_left_out_is_told(transformer_run):
    assert "did you leave out W_O?" in wrong_message(ov, ov_with(order=("W_V",)), transformer_run)


def test_w_v_left_out_is_told(transformer_run):
    assert "did you leave out W_V?" in wrong_message(ov, ov_with(order=("W_O",)), transformer_run)


@pytest.mark.parametrize("position", [0, -1])
def test_a_positional_embedding_added_is_told(transformer_run, position):
    message = wrong_message(ov, ov_with(position=position), transformer_run)
    assert "did you add a positional embedding to W_E?" in message, message


def test_the_whole_unembedding_is_told(transformer_run):
    message = wrong_message(ov, ov_with(letter_columns=False), transformer_run)
    assert "take W_U's letter columns only" in message, message


# Exercise 7, steering: a hook that returns nothing, no clamp, the vector reversed, the flip read at `position`, every
# sequence steered and counted.

def steer_with(returns=True, clamp=True, sign=1, read=lambda seq_len, position: seq_len - 1 - position, every=False):
    def steer(model, hidden1, sequences, eos_id, position, source, target, alpha):
        has = lambda letter: sequences[:, position] == letter
        vector = sign * (hidden1[has(target)].mean(0) - hidden1[has(source)].mean(0))
        tokens = add_eos(sequences if every else sequences[has(source)], eos_id)

        def push(out):
            pushed = out + alpha * vector
            pushed = pushed.clamp(min=0) if clamp else pushed
            return pushed if returns else None

        before = run_with_hooks(model, tokens, {}).argmax(-1)
        after = run_with_hooks(model, tokens, {"hidden1": push}).argmax(-1)
        mirror = read(sequences.shape[1], position)
        others = torch.arange(tokens.shape[1]) != mirror
        return (after[:, mirror] == target).float().mean(), (after != before)[:, others].any(1).float().mean()
    return steer


def test_the_students_own_steering_passes(run):
    assert verdict(steer, steer_with(), run, "mine.py") == f"{steer.NUMBER} steer: passed"


def test_a_steering_hook_that_returns_nothing_is_told(run):
    assert "does your hook return out + alpha * v?" in wrong_message(steer, steer_with(returns=False), run)


def test_a_forgotten_clamp_is_told(run):
    message = wrong_message(steer, steer_with(clamp=False), run)
    assert "hidden1 is the output of a ReLU, so no input makes it negative" in message, message


def test_a_reversed_vector_is_told(run):
    assert "your vector points the wrong way" in wrong_message(steer, steer_with(sign=-1), run)


def test_the_flip_read_at_position_rather_than_its_mirror_is_told(run):
    message = wrong_message(steer, steer_with(read=lambda seq_len, position: position), run)
    assert "did you read the flip at output `position`?" in message, message


def test_every_sequence_steered_and_counted_is_told(run):
    message = wrong_message(steer, steer_with(every=True), run)
    assert f"did you steer and count all {len(run.sequences)} sequences?" in message, message


# The runner, `python -m reversal.exercises`, in this process: it trains its own models (trained_run); here it is
# given the session's, which are the same settings (test_the_runner_trains_the_default_models).

@pytest.fixture
def runner(monkeypatch, run, transformer_run):
    monkeypatch.setattr(exercises_main, "trained_run", {"mlp": run, "transformer": transformer_run}.__getitem__)
    return exercises_main.main


def test_the_runner_passes_the_solutions(runner, capsys):
    assert runner(["--solutions"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{e.NUMBER} {e.TITLE}: passed" for e in EXERCISES]


def test_the_runner_on_the_stubs_says_each_is_not_written_yet_and_fails(runner, capsys):
    assert runner(["--hints"]) == 1
    lines = capsys.readouterr().out.splitlines()
    verdicts = [line for line in lines if not line.startswith(" ")]
    assert [line.split(":")[0] for line in verdicts] == [f"{e.NUMBER} {e.TITLE}" for e in EXERCISES]
    assert all("not written yet" in line for line in verdicts), verdicts
    assert len(lines) > len(verdicts) and max(map(len, lines)) <= 120, "each hint follows, wrapped to 120"


def test_the_runner_checks_the_chosen_exercises_in_lesson_order(runner, capsys):
    assert runner(["--solutions", "--exercise", "ov", "--exercise", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == ["2 ablate: passed", "6 ov: passed"]


def test_the_runner_reads_a_students_file_and_names_what_it_lacks(runner, capsys, tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text("from reversal.exercises.solutions import cache_hidden1\n")
    assert runner([str(mine), "--exercise", "1", "--exercise", "2"]) == 1
    assert capsys.readouterr().out.splitlines() == ["1 hook: passed",
                                                    f"2 ablate: not written yet (no function zero_ablate in {mine})"]
    mine.write_text("def cache_hidden1(:\n")
    assert runner([str(mine)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{mine} does not load: SyntaxError") and len(out.splitlines()) == 1, out


@pytest.mark.parametrize("argv, named", [(["--exercise", "9"], "--exercise"), (["--exercise", "hooks"], "1 hook"),
                                         (["no_such_file.py"], "no file no_such_file.py"),
                                         (["mine.py", "--solutions"], "not both")])
def test_the_runner_refuses_bad_input_in_one_line(runner, capsys, argv, named, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.py").write_text("")
    with pytest.raises(SystemExit) as stop:
        runner(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and named in err, err


def test_the_runner_trains_the_default_models(run, transformer_run):
    for kind, trained in [("mlp", run), ("transformer", transformer_run)]:
        assert start_run(Config(model=kind)).cfg == trained.cfg, f"the runner's {kind} is not the session's"


# The notebook's exercise cells (demo_notebook.py): for each exercise a stub cell with the stub's signature, a hint
# and a solution folded in <details> that are the exercise's own, and a check cell; and the class path's minutes.

def notebook_cells():
    """demo_notebook.py's cells, as (kind, text): kind "markdown" (the comment marks taken off) or "code"."""
    cells = []
    for chunk in (ROOT / "demo_notebook.py").read_text().split("# %%")[1:]:
        kind = "markdown" if chunk.startswith(" [markdown]") else "code"
        body = chunk.split("\n", 1)[1]
        if kind == "markdown":
            body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
        cells.append((kind, body.strip("\n")))
    return cells


def folded(markdown, title):
    """The text folded under <summary>title</summary>, its lines joined."""
    found = re.search(rf"<details><summary>{title}</summary>\n(.*?)\n</details>", markdown, re.DOTALL)
    return found and found.group(1).strip("\n")


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda exercise: exercise.TITLE)
def test_the_notebook_has_the_exercise_as_stub_hint_solution_and_check(exercise):
    cells = notebook_cells()
    stubs = [i for i, (kind, text) in enumerate(cells) if kind == "code" and f"def {exercise.FUNCTION}(" in text]
    assert len(stubs) == 1, f"exercise {exercise.NUMBER}: one stub cell defining {exercise.FUNCTION} expected"
    at = stubs[0]
    intro, stub, notes, check_cell = (cells[at + k][1] for k in (-1, 0, 1, 2))  # the cells in order
    assert intro.startswith(f"**Exercise {exercise.NUMBER}: {exercise.TITLE}** (difficulty {exercise.DIFFICULTY} of "
                            f"3, {exercise.MINUTES} min)."), intro
    space = {}
    exec(stub, space)
    assert inspect.signature(space[exercise.FUNCTION]) == inspect.signature(getattr(exercise, exercise.FUNCTION))
    with pytest.raises(NotImplementedError):
        space[exercise.FUNCTION](*[None] * len(inspect.signature(space[exercise.FUNCTION]).parameters))
    assert " ".join(folded(notes, "Hint").split()) == " ".join(exercise.HINT.split()), "the hint is the exercise's"
    solution = inspect.getsource(getattr(solutions, exercise.FUNCTION)).rstrip()
    assert textwrap.dedent(folded(notes, "Solution")).strip("\n") == solution, "the solution is solutions.py's"
    run_name = "transformer_run" if model_kind(exercise) == "transformer" else "run"
    assert f"check(exercises.{exercise.TITLE}, {exercise.FUNCTION}, {run_name})" in check_cell


def test_a_check_cell_checks_yours_in_a_notebook_and_the_solution_in_a_terminal(run, capsys, monkeypatch):
    check(hook, hook.cache_hidden1, run)
    assert capsys.readouterr().out == ("Exercise 1 hook: passed, by the reference solution (yours: "
                                       "reversal/exercises/hook.py)\n")
    monkeypatch.setattr(checking, "in_notebook", lambda: True)
    check(hook, hook.cache_hidden1, run)
    assert capsys.readouterr().out == ("1 hook: not written yet (cache_hidden1 still raises NotImplementedError, "
                                       "the cell above)\n")


def minutes_of_steps(text):
    """"steps 1 to 8 and 11 to 14" -> [1, ..., 8, 11, ..., 14]."""
    steps = []
    for low, high in re.findall(r"(\d+)(?: to (\d+))?", text):
        steps += range(int(low), int(high or low) + 1)
    return steps


@pytest.mark.parametrize("where", ["README.md", "demo_notebook.py"])
def test_the_class_path_adds_up_the_minutes_the_steps_and_exercises_give(where):
    step_minutes = {int(step): int(minutes) for step, minutes in
                    re.findall(r"^# ## Step (\d+): .*\((\d+) min\)$", (ROOT / "demo_notebook.py").read_text(), re.M)}
    text = " ".join(line.lstrip("# ") for line in (ROOT / where).read_text().splitlines())
    sessions = re.findall(r"\((\d+) min\): steps ([\d to and]+?), with exercises (\d+) to (\d+)\.", text)
    assert len(sessions) == 2, f"{where}: the class and the second session, each with its minutes"
    covered = []
    for minutes, steps, first, last in sessions:
        steps = minutes_of_steps(steps)
        exercise_minutes = sum(exercise.MINUTES for exercise in EXERCISES[int(first) - 1:int(last)])
        assert int(minutes) == sum(step_minutes[step] for step in steps) + exercise_minutes, (where, steps)
        covered += steps
    home, minutes = re.search(r"Steps ([\d and]+) \((\d+) min\) are reading for home", text).groups()
    covered += minutes_of_steps(home)
    assert int(minutes) == sum(step_minutes[step] for step in minutes_of_steps(home))
    assert sorted(covered) == sorted(step_minutes), f"{where}: every step once, in class, the second session or home"
    assert int(sessions[0][0]) <= 90 and int(sessions[1][0]) <= 95


@pytest.mark.slow
def test_the_tutorial_in_a_terminal_passes_every_reference_solution(notebook_run):
    result, _, _ = notebook_run
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "by the reference solution" in line]
    assert lines == [f"Exercise {e.NUMBER} {e.TITLE}: passed, by the reference solution (yours: reversal/exercises/"
                     f"{e.__name__.split('.')[-1]}.py)" for e in EXERCISES]
