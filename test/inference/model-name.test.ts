import { describe, expect, test } from "bun:test";
import { chooseModel, modelKey, sameModel } from "../../src/inference/model-name.ts";

describe("model names", () => {
  test("modelKey: Ollama's :latest, case, registry ports", () => {
    expect(modelKey("llama3.2")).toBe("llama3.2:latest");
    expect(modelKey(" Llama3.2:Latest ")).toBe("llama3.2:latest");
    expect(modelKey("mistral:7b")).toBe("mistral:7b");
    expect(modelKey("hf.co/user/model:Q4_K_M")).toBe("hf.co/user/model:q4_k_m");
    expect(modelKey("hf.co/org/model")).toBe("hf.co/org/model:latest");
    expect(modelKey("host:5000/team/model")).toBe("host:5000/team/model:latest");
  });

  test("sameModel", () => {
    expect(sameModel("llama3.2", "LLAMA3.2:latest")).toBe(true);
    expect(sameModel("llama3.2", "llama3.2:3b")).toBe(false);
  });

  test("chooseModel: the requested one if served, else the default if served, else the first", () => {
    const served = ["llama3.2:latest", "mistral:7b"];
    expect(chooseModel({ model: "llama3.2" }, served)).toBe("llama3.2:latest");
    expect(chooseModel({ model: "LLAMA3.2:latest" }, served)).toBe("llama3.2:latest");
    expect(chooseModel({ model: "llama3.2:3b" }, served)).toBeNull();
    expect(chooseModel({ model: "gpt-4" }, served, "mistral:7b")).toBeNull(); // asked for is asked for
    expect(chooseModel({}, served, "mistral")).toBe("llama3.2:latest"); // default not served → first
    expect(chooseModel({}, served, "mistral:7b")).toBe("mistral:7b");
    expect(chooseModel({}, ["llama3.2"], "llama3.2:latest")).toBe("llama3.2");
    expect(chooseModel({}, [])).toBeNull();
  });
});
