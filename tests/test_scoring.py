"""The scoring setting: one way to change how a live model ranks, checked by the key declarations."""

import pytest

import run_recbole_hier
from recbole_hier.model.scoring import SCORING_KEYS, ScoringSetting, supported_keys


def test_a_setting_is_parsed_checked_and_applied_where_the_model_holds_it(built):
    *_, model = built(model="HierRec")
    before = ScoringSetting.of(model).values
    assert set(before) == set(SCORING_KEYS) and before["cold_score"] == "vector"
    applied = ScoringSetting(cold_score="calibrated", cold_score_temperature=1, text_mix_count=3).apply(model)
    assert model.cold_score == "calibrated" and model.text_mix_count == 3.0
    assert isinstance(model.cold_score_temperature, float) and applied["cold_score_temperature"] == 1.0
    assert ScoringSetting.of(model).values == applied
    # a refused setting changes nothing
    with pytest.raises(ValueError, match="text_mix_count mixes .* set cold_score: calibrated"):
        ScoringSetting(cold_score="vector").apply(model)
    with pytest.raises(ValueError, match="score_levels must be one of"):
        ScoringSetting(score_levels="bottom").apply(model)
    assert ScoringSetting.of(model).values == applied


def test_an_unknown_key_names_the_closest_and_a_model_refuses_keys_it_does_not_apply(built):
    with pytest.raises(ValueError, match="'cold_scores' is not a scoring key \\(did you mean 'cold_score'\\?\\)"):
        ScoringSetting(cold_scores="calibrated")
    with pytest.raises(ValueError, match="scoring key 'id_fill' was retired: it measured nothing \\(results/levers.md"):
        ScoringSetting(id_fill="neighbours")
    *_, model = built(model="SASRecText", n_layers=1)
    assert "score_levels" not in supported_keys(model) and "cold_score" in supported_keys(model)
    with pytest.raises(ValueError, match="SASRecText has no score_levels"):
        ScoringSetting(score_levels="mean").apply(model)


def test_the_command_line_passes_a_scoring_key_to_training_as_a_config_key():
    args, overrides = run_recbole_hier.parse_args(["--cold_score=calibrated", "--cold_score_temperature=0.2",
                                                   "--epochs=1"])
    assert overrides == ["--cold_score=calibrated", "--cold_score_temperature=0.2", "--epochs=1"]
    args, overrides = run_recbole_hier.parse_args(["--recommend", "--model_file=m.pth", "--text_mix_count=2"])
    assert overrides == [] and args.text_mix_count == 2.0
