# Homebrew formula for flowstate: builds the release's source tarball with cargo and tests the
# result with `flowstate check` on a tiny config. release.yml attaches a copy to each release with
# `url` and `sha256` filled in for its tag; `brew install --HEAD ./flowstate.rb` builds main.
class Flowstate < Formula
  desc "Monitoring daemon: checks services continuously and alerts on real changes"
  homepage "https://github.com/flowstate/flowstate"
  url "https://github.com/flowstate/flowstate/archive/refs/tags/v0.1.0.tar.gz"
  sha256 "0000000000000000000000000000000000000000000000000000000000000000"
  license any_of: ["MIT", "Apache-2.0"]
  head "https://github.com/flowstate/flowstate.git", branch: "main"

  depends_on "rust" => :build

  def install
    system "cargo", "install", *std_cargo_args
    pkgshare.install "examples/flowstate.yaml"
  end

  def caveats
    <<~EOS
      flowstate reads #{etc}/flowstate/flowstate.yaml as a service. To start from the example:
        mkdir -p #{etc}/flowstate
        cp #{opt_pkgshare}/flowstate.yaml #{etc}/flowstate/flowstate.yaml
        flowstate check -c #{etc}/flowstate/flowstate.yaml
        brew services start flowstate
    EOS
  end

  service do
    run [opt_bin/"flowstate", "run", "-c", etc/"flowstate/flowstate.yaml"]
    keep_alive true
    log_path var/"log/flowstate.log"
    error_log_path var/"log/flowstate.log"
  end

  test do
    (testpath/"flowstate.yaml").write <<~YAML
      hosts:
        - label: local
          type: tcp
          address: 127.0.0.1:9
    YAML
    output = shell_output("#{bin}/flowstate check -c #{testpath}/flowstate.yaml")
    assert_match "configuration ok: 1 host", output
    assert_match version.to_s, shell_output("#{bin}/flowstate --version")
  end
end
