"""Beamline config: TOML loading and clear errors for malformed input."""

import subprocess
import sys

import pytest

from stxm_operando.config import BeamlineConfig, ConfigError
from stxm_operando.sim import SimulatedBeamline

GOOD = """
[mono]
energy_limits_eV = [702.0, 718.0]
backlash_eV = 0.3

[potentiostat]
capacity_Ah = 2e-6

[[sim.particles]]
center_um = [0.5, -0.5]
n_010 = 8
n_001 = 20
"""


def test_toml_config_is_loaded_with_defaults_for_the_rest(tmp_path):
    path = tmp_path / "beamline.toml"
    path.write_text(GOOD)
    config = BeamlineConfig.from_toml(path)
    assert config.mono.energy_limits_eV == (702.0, 718.0)
    assert config.mono.settle_time_s == BeamlineConfig().mono.settle_time_s
    assert config.potentiostat.capacity_Ah == 2e-6
    assert len(config.sim.particles) == 1 and config.sim.particles[0].n_001 == 20
    world = SimulatedBeamline(config)
    assert world.limits("energy") == (702.0, 718.0)
    assert world.particles[0].model.fraction_map().shape == (8, 20)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[mono]\nenergy_limits_eV = [720.0, 700.0]", "lower limit must be below"),
        ("[mono]\nenergy_limit = [700.0, 720.0]", "unknown key"),
        ("[mono]\nbacklash_eV = 'half'", "expected a number"),
        ("[stage]\nfine_travel_um = [1.0]", r"fine_travel_um\[1\]: expected more values"),
        ("[mono]\nbacklash_eV = true", "backlash_eV: expected a number"),
        ("[[sim.particles]]\nn_010 = 10.0", r"particles\[0\].n_010: expected an integer"),
        ("[potentiostat]\nmax_current_A = -1.0", "must be positive"),
        ("[potentiostat]\nlog_length = 2.5", "expected an integer"),
        ("[sim]\nparticles = []", "at least one particle"),
        ("[[sim.particles]]\nn_010 = 1", "n_010 from 3"),
        # values that are numbers but no beamline's (hostile probes, issue 27)
        ("[potentiostat]\ncapacity_Ah = inf", "capacity_Ah: expected a finite number"),
        ("[detector]\ni0_rate_hz = inf", "i0_rate_hz: expected a finite number"),
        ("[potentiostat]\nlog_interval_s = inf", "log_interval_s: expected a finite number"),
        ("[potentiostat]\nlog_interval_s = 1e5", "log_interval_s must be above 0 and at most"),
        ("[detector]\nline_overhead_ms = nan", "line_overhead_ms: expected a finite number"),
        ("[mono]\nsettle_time_s = inf", "settle_time_s: expected a finite number"),
        ("[zone_plate]\nz_travel_um = [2000, 2100]", r"z_travel_um: the focus runs from 33\d\d"),
        ("[[sim.particles]]\nn_010 = 100000\nn_001 = 100000", "each at most 1000"),
        ("[[sim.particles]]\nx0 = 1.5", "x0 must be inside"),
        ("[sim]\nj0_form = 'tafel'", "j0_form"),
        ("mono = 3", "expected a table"),
        ("[mono\nenergy = 1", "not valid TOML"),
        ("[epics]\nprefix = ''", "prefix must not be empty"),
        ("[session]\nbackend = 'tango'", "backend must be"),
        ("[session]\npublish = 'nohost'", "host:port"),
        ("[session.names]\nscanner = 'not a name'", "not a valid Python name"),
        ("[session.names]\nraster = 'scanner'", "must differ"),
        ("[epics.devices]\nraster = 'A B:'", "no spaces"),
    ],
)
def test_malformed_configs_give_clear_errors(tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        BeamlineConfig.from_toml(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        BeamlineConfig.from_toml(tmp_path / "nope.toml")


def test_cli_reports_bad_config_without_a_traceback(tmp_path, capsys):
    from stxm_operando.cli import main as cli_main

    path = tmp_path / "bad.toml"
    path.write_text("[mono]\nenergy_limits_eV = [720.0, 700.0]")
    assert cli_main(["ioc", "--config", str(path)]) == 2
    errors = capsys.readouterr().err
    assert "bad config" in errors and "Traceback" not in errors


def test_the_documented_example_config_is_valid():
    from pathlib import Path

    from stxm_operando.devices.beamline import PV_GROUPS

    config = BeamlineConfig.from_toml(Path(__file__).parents[1] / "docs/beamline-example.toml")
    assert config.session.backend == "epics" and config.session.names.potentiostat == "pstat"
    assert config.epics.devices.potentiostat == "BL10ID1:BIOLOGIC:"
    assert config.epics.devices.raster == "" and "raster" in PV_GROUPS
    assert config.potentiostat.max_current_A / config.potentiostat.capacity_Ah > 16


def test_ipython_session_namespace_follows_the_config(tmp_path):
    from stxm_operando.config import SessionConfig
    from stxm_operando.session import build_session

    config = BeamlineConfig.from_dict(
        {"session": {"catalog": str(tmp_path / "cat"), "names": {"potentiostat": "pstat"}}}
    )
    assert isinstance(config.session, SessionConfig)
    namespace, banner = build_session(config)
    try:
        assert namespace["pstat"] is namespace["bl"].potentiostat
        assert namespace["pstat"].name == "pstat"
        for name in ("RE", "catalog", "live", "an", "operando", "find_particles", "scanner"):
            assert name in namespace
        assert "operando" in banner and "pstat" in banner
        RE = namespace["RE"]
        assert RE.waiting_hook is not None  # the progress bar
        (uid,) = RE(namespace["rest"](namespace["bl"], 30.0)).run_start_uids
        namespace["writer"].flush()
        assert namespace["catalog"].search(plan_name="electrochemistry") == [uid]
    finally:
        namespace["catalog"].close()


def test_a_session_whose_catalog_cannot_open_says_so_where_it_is_used(tmp_path):
    """The catalog opens on a thread of its own (the prompt does not wait for tiled): a bad
    location is the usual clear error at the catalog's first use, and a run stops at its
    start document, before any step."""
    from stxm_operando.session import build_session
    from stxm_operando.storage import CatalogError

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    config = BeamlineConfig.from_dict({"session": {"catalog": str(blocker / "catalog")}})
    namespace, banner = build_session(config)  # returns without waiting for the catalog
    assert "a-file" in banner
    with pytest.raises(CatalogError):
        namespace["catalog"].search(plan_name="rest")
    bl = namespace["bl"]
    clock = bl.world.clock_s
    with pytest.raises(CatalogError):
        namespace["RE"](namespace["rest"](bl, 30.0))
    assert bl.world.clock_s == clock  # the rest never began


def test_ipython_command_opens_a_working_session(tmp_path):
    commands = "print('DEVICES', scanner.name, potentiostat.mode.get())\nexit\n"
    result = subprocess.run(
        [sys.executable, "-m", "stxm_operando.cli", "ipython", "--sim"],
        input=commands,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "stxm-operando session (sim beamline)" in result.stdout
    assert "DEVICES scanner OCV" in result.stdout
